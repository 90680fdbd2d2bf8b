"""docs/RULES.md against src/model/thresholds.h: the thresholds live in the
header; the document repeats their values for readers, and must say what the
code does. Every table row `| `kName` | value | why |` and every value
written before its name in the text ("at least 40 (`kFanoutMinToolCalls`)",
"90 % (`kLowCacheHitRate`)", "24 h (`kSpikeBaselineNs`)") names a constant of
the header with that value, and every constant of the header is in the
document with a value.

    python3 tests/rules/thresholds_doc_test.py
"""
import os
import re
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = os.path.join(ROOT, "src", "model", "thresholds.h")
DOC = os.path.join(ROOT, "docs", "RULES.md")

NS_PER = {"ns": 1, "s": 10**9, "min": 60 * 10**9, "h": 3600 * 10**9}


def header_constants():
    """{name: value} of `inline constexpr T kName = expr;` (int64_t{n}, digit
    separators and arithmetic as C++ writes them)."""
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    out = {}
    for m in re.finditer(r"inline constexpr\s+[\w:]+\s+(k\w+)\s*=\s*([^;]+);", text):
        expr = re.sub(r"\b(?:int64_t|uint64_t|int|double)\{([^}]*)\}", r"(\1)", m.group(2))
        expr = expr.replace("'", "")
        if not re.fullmatch(r"[\d\s.()*/+-]+", expr):
            raise ValueError(f"{m.group(1)}: cannot evaluate {m.group(2)!r}")
        out[m.group(1)] = eval(expr)  # digits and arithmetic only (checked above)
    return out


def doc_value(text):
    """A table's value column: 20,000 / 0.10 / 1/3 / 5 min / 24 h / 300 s."""
    text = text.strip()
    m = re.fullmatch(r"([\d,.]+(?:/\d+)?)\s*(ns|s|min|h|%|×|tokens|turns|requests|runs|days)?",
                     text)
    if not m:
        raise ValueError(f"value {text!r}")
    num = m.group(1).replace(",", "")
    value = int(num.split("/")[0]) / int(num.split("/")[1]) if "/" in num else float(num)
    unit = m.group(2)
    if unit in NS_PER:
        return value * NS_PER[unit]
    return value / 100 if unit == "%" else value


UNIT = r"(?:\s*%|×|\s+(?:ns|s|min|h|tokens|turns|requests|runs|days))"


def doc_rows():
    """(line, name, value text) of each table row and each "VALUE (`kName`)"
    in the text (a line break may stand between them)."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    line_of = lambda pos: text.count("\n", 0, pos) + 1
    rows = []
    # | `kA` | v | why |, and | `kA` / `kB` | v1 / v2 | why |
    for m in re.finditer(r"^\| (`k\w+`(?: / `k\w+`)*) \| ([^|]+) \|", text, re.M):
        names = re.findall(r"`(k\w+)`", m.group(1))
        values = [v.strip() for v in m.group(2).split(" / ")] if len(names) > 1 else [m.group(2)]
        if len(values) != len(names):
            raise ValueError(f"RULES.md:{line_of(m.start())}: {len(names)} names, {len(values)} values")
        rows += [(line_of(m.start()), n, v) for n, v in zip(names, values)]
    for m in re.finditer(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?)(" + UNIT + r")?\s*\(`(k\w+)`\)", text):
        unit = (m.group(2) or "").strip()
        rows.append((line_of(m.start()), m.group(3), m.group(1) + (" " + unit if unit else "")))
    return rows


class ThresholdsDocTest(unittest.TestCase):
    def test_every_documented_value_is_the_code_value(self):
        consts = header_constants()
        rows = doc_rows()
        self.assertGreater(len(rows), 30)
        for line, name, text in rows:
            with self.subTest(name=name, line=line):
                self.assertIn(name, consts, f"RULES.md:{line} names no constant of thresholds.h")
                self.assertAlmostEqual(doc_value(text), float(consts[name]), delta=1e-9 *
                                       max(1.0, abs(float(consts[name]))),
                                       msg=f"RULES.md:{line}: {name} is {consts[name]} in the code")

    def test_every_constant_is_documented(self):
        documented = {name for _, name, _ in doc_rows()}
        missing = sorted(set(header_constants()) - documented)
        self.assertEqual(missing, [], "thresholds.h constants without a RULES.md table row")

    def test_the_parsers_read_what_they_claim(self):
        # Hand-checked values, so a parser bug cannot make both sides agree.
        self.assertEqual(doc_value("20,000"), 20000)
        self.assertEqual(doc_value("5 min"), 300 * 10**9)
        self.assertEqual(doc_value("24 h"), 86400 * 10**9)
        self.assertAlmostEqual(doc_value("1/3"), 1 / 3)
        self.assertAlmostEqual(doc_value("90 %"), 0.9)
        self.assertEqual(doc_value("3,000,000 tokens"), 3000000)
        self.assertEqual(doc_value("1.50 ×"), 1.5)
        consts = header_constants()
        self.assertEqual(consts["kSpikeBaselineNs"], 86400 * 10**9)
        self.assertEqual(consts["kBloatMinLastPrompt"], 180000)


if __name__ == "__main__":
    unittest.main()
