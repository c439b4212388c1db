#!/usr/bin/env python3
"""Checks the sample documents against their own canonical JSON (scripts/check-docs.sh calls it).

Usage: check-docs.py DIR CSVDIR
  DIR holds NAME.json, NAME.pdf, NAME.xlsx (and NAME.ubl.xml) per document; CSVDIR the sheets LibreOffice
  converted (NAME-Summary.csv, NAME-Lines.csv, ...). For each document:
  - pdftotext finds the number, both parties' names as written, "page N of M" on every page, and the total;
  - the XLSX as LibreOffice reads it has the net, tax and gross totals of the JSON, and its lines add up to the
    net total exactly.
Exits 1 on the first document that fails, naming it and what is wrong.
"""
import csv, json, os, re, subprocess, sys
from decimal import Decimal

def grouped(s):
    neg = s.startswith("-")
    s = s.lstrip("-")
    i, _, f = s.partition(".")
    out = "{:,}".format(int(i)) + ("." + f if f else "")
    return ("-" if neg else "") + out

def fail(name, msg):
    print(f"{name}: {msg}")
    sys.exit(1)

def main(dir, csvdir):
    cjk_font = os.path.exists("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
    names = sorted(f[:-5] for f in os.listdir(dir) if f.endswith(".json"))
    if not names:
        fail(dir, "no documents")
    for name in names:
        doc = json.load(open(os.path.join(dir, name + ".json"), encoding="utf-8"))
        t = doc["totals"]
        pdf = os.path.join(dir, name + ".pdf")
        text = subprocess.run(["pdftotext", "-layout", pdf, "-"], capture_output=True, text=True, check=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout).group(1))
        wants = [doc["number"]] if doc.get("number") else []
        wants += [grouped(t["gross"]) + " " + doc["currency"]]
        wants += [f"page {n} of {pages}" for n in range(1, pages + 1)]
        for party in (doc["seller"], doc["buyer"]):
            if cjk_font or not re.search(r"[\u2e80-\u9fff\uac00-\ud7ff]", party["name"]):
                wants.append(party["name"])
        for w in wants:
            if w not in text:
                fail(name, f"the PDF text (pdftotext) lacks {w!r}")
        sheets = {}
        for sheet in ("Summary", "Lines", "Disputes", "Days"):
            path = os.path.join(csvdir, f"{name}-{sheet}.csv")
            if not os.path.exists(path):
                fail(name, f"LibreOffice produced no {sheet} sheet")
            sheets[sheet] = list(csv.reader(open(path, encoding="utf-8")))
        summary = {r[0]: r[1] for r in sheets["Summary"] if len(r) > 1 and r[0]}
        for label, key in (("Net total", "net"), ("Tax total", "tax"), ("Total", "gross")):
            got = summary.get(label)
            if got is None or Decimal(got) != Decimal(t[key]):
                fail(name, f"XLSX {label} reads {got!r} in LibreOffice, the document says {t[key]}")
        head = sheets["Lines"][0]
        col = head.index("Net " + doc["currency"])
        total = sum((Decimal(r[col]) for r in sheets["Lines"][1:] if len(r) > col and r[col]), Decimal(0))
        if total != Decimal(t["net"]):
            fail(name, f"XLSX lines add up to {total} in LibreOffice, the net total is {t['net']}")
        if len(sheets["Lines"]) - 1 != len(doc["lines"]):
            fail(name, f"XLSX has {len(sheets['Lines']) - 1} lines, the document {len(doc['lines'])}")
        print(f"{name}: PDF {pages} page(s) and XLSX agree with the document (net {t['net']}, gross {t['gross']} {doc['currency']})")
    if not cjk_font:
        print("warning: no CJK font (fonts-droid-fallback): CJK names were not checked in the PDF text")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
