#!/usr/bin/env python3
"""Generates the man pages from include/fdsafe.h (Python 3 standard library only).

    scripts/gen_man.py [--out build/man]

writes one page in section 3 per function the header declares (OUT/man3/<function>.3) and the
overview OUT/man7/fdsafe.7 from man/fdsafe.7.in, whose @SECTIONS@ line becomes the header's
sections with their functions. Everything on a function's page comes from its doc comment:
the text before the first label is DESCRIPTION, sentences starting with "Returns" are RETURN
VALUE, "Errors:" is ERRORS, "Thread safety:" is THREAD SAFETY, "Ownership:" a paragraph of its
own; the constants of the function's section that the comment names (or names with `_*`) and
the structures in its prototype are listed with their own comments.
"""
import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "include" / "fdsafe.h"
OVERVIEW = ROOT / "man" / "fdsafe.7.in"

SECTION_RE = re.compile(r"@defgroup fdsafe_(\w+) Section (\d+): (.*)")
LABELS = ("Errors", "Thread safety", "Ownership")
LABEL_RE = re.compile(r"(?<![\w`])(%s):" % "|".join(LABELS))


class Item:
    def __init__(self, doc, code):
        self.doc, self.code = doc, code
        first = code.lstrip()
        if first.startswith("#define"):
            self.kind, self.name = "const", first.split()[1]
            self.value = " ".join(first.split()[2:])
        elif re.match(r"(typedef\s+)?(struct|enum|union)\b[^;]*\{", first):
            self.kind, self.name = "type", re.match(r"(?:typedef\s+)?\w+\s+(\w+)", first).group(1)
        elif first.startswith("typedef"):
            self.kind, self.name = "type", re.findall(r"\w+", first.split(";")[0])[-1]
        else:
            self.kind = "function"
            self.name = re.findall(r"\w+", first[: first.index("(")])[-1]
            self.prototype = re.sub(r"\s+", " ", first).replace("( ", "(")


class Section:
    def __init__(self, module, number, title):
        self.module, self.number, self.title = module, int(number), title
        self.about, self.items = "", []

    def functions(self):
        return [i for i in self.items if i.kind == "function"]


def doc_text(comment):
    """The text of a /** ... */ comment, paragraphs separated by blank lines."""
    lines = []
    for line in comment.strip().splitlines():
        line = re.sub(r"^\s*/\*\*\s?|\s*\*/\s*$", "", line)
        line = re.sub(r"^\s*\*( |$)", "", line)
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


def parse_header(text):
    """The header's sections, each with its items (doc comment + declaration) in order."""
    sections, current = [], None
    chunks, chunk, depth = [], [], 0
    code_lines = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S).splitlines()
    for line, code in zip(text.splitlines(), code_lines):
        if not line.strip() and depth == 0:
            chunks.append("\n".join(chunk))
            chunk = []
            continue
        if code.lstrip().startswith("#") or "extern \"C\"" in line:
            code = ""  # the preprocessor, and the C++ linkage block around everything
        code = re.sub(r"//.*", "", code)
        depth += code.count("{") - code.count("}")
        chunk.append(line)
    chunks.append("\n".join(chunk))
    for chunk in filter(None, chunks):
        heading = SECTION_RE.search(chunk)
        if heading:
            current = Section(*heading.groups())
            about = doc_text(chunk[chunk.index("/**"):])
            current.about = " ".join(about.replace("@{", "").splitlines()[1:]).strip()
            sections.append(current)
            continue
        if current is None or "@}" in chunk or chunk.lstrip().startswith("#ifdef __cplusplus"):
            continue
        match = re.match(r"\s*(/\*\*.*?\*/)\s*\n(.*)", chunk, re.S)
        doc, code = (doc_text(match.group(1)), match.group(2)) if match else ("", chunk)
        if code.strip().startswith("#endif"):
            continue
        current.items.append(Item(doc, code))
    return sections


# ---- troff --------------------------------------------------------------------------------

def escape(text):
    return text.replace("\\", "\\e").replace("-", "\\-")


def inline(text, params=()):
    """Markdown-ish doc text to troff: `code` bold (a parameter of the function italic)."""
    out = []
    for i, part in enumerate(text.split("`")):
        if i % 2 == 0:
            out.append(part.replace("\\", "\\e"))
        elif part.lstrip("*&") in params:
            out.append("\\fI\\%%%s\\fR" % escape(part))
        else:
            out.append("\\fB\\%%%s\\fR" % escape(part))
    return "".join(out)


def paragraph(text, params=()):
    """One paragraph as a troff text line, safe from leading control characters."""
    words = inline(" ".join(text.split()), params).split(" ")
    # `\%` stops hyphenation only at the start of a word; inside one ("(\%MSG_PEEK") it would
    # mark a break point, so it moves to the front of its word.
    words = ["\\%" + w.replace("\\%", "") if "\\%" in w[2:] else w for w in words]
    return "\\&" + " ".join(words)


def sentences(text):
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`(\"])", " ".join(text.split())) if s]


def split_labels(doc):
    """{'': description, 'Errors': ..., 'Thread safety': ..., 'Ownership': ...}, each a list
    of paragraphs."""
    parts, label, pos = {}, "", 0
    for m in LABEL_RE.finditer(doc):
        parts.setdefault(label, []).append(doc[pos:m.start()])
        label, pos = m.group(1), m.end()
    parts.setdefault(label, []).append(doc[pos:])
    return {k: [p.strip() for p in re.split(r"\n\s*\n", "\n\n".join(v)) if p.strip()] for k, v in parts.items()}


def split_top(text, sep=";"):
    """Splits at `sep` outside parentheses and backticks."""
    items, depth, tick, cur = [], 0, False, []
    for c in text:
        if c == "`":
            tick = not tick
        elif not tick and c in "([":
            depth += 1
        elif not tick and c in ")]":
            depth -= 1
        if c == sep and depth == 0 and not tick:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    items.append("".join(cur))
    return [i.strip().rstrip(".").strip() for i in items if i.strip()]


def page(func, section, sections, version, types):
    params = re.findall(r"(\w+)\s*(?:,|\)$)", func.prototype.rstrip(";"))
    params = tuple(p for p in params if p != "void")
    parts = split_labels(func.doc)
    description, returns = [], []
    for para in parts.get("", []):
        kept = []
        for s in sentences(para):
            (returns if s.startswith("Returns") else kept).append(s)
        if kept:
            description.append(" ".join(kept))
    summary = sentences(description[0])[0] if description else func.name
    summary = re.sub(r"`", "", summary).rstrip(".")
    if len(summary) > 70:  # a NAME line is a summary: drop asides, then cut at a word
        summary = re.sub(r"\s*\([^)]*\)", "", summary)
    if len(summary) > 70:
        summary = summary[:68].rsplit(" ", 1)[0].rstrip(",:;") + "..."

    out = ['.\\" Generated by scripts/gen_man.py from include/fdsafe.h. Do not edit.',
           '.TH %s 3 "" "fdsafe %s" "fdsafe Manual"' % (func.name.upper().replace("_", "\\_"), version),
           '.\\" No hyphenation: the an macros turn it back on at each paragraph unless HY is 0.',
           ".nr HY 0", ".nh", ".SH NAME", "%s \\- %s" % (escape(func.name), escape(summary)),
           ".SH LIBRARY",
           "fdsafe library (\\fIlibfdsafe\\fR, \\fI\\-lfdsafe\\fR; "
           "\\fBpkg\\-config \\-\\-cflags \\-\\-libs fdsafe\\fR)",
           ".SH SYNOPSIS", ".nf", ".B #include <fdsafe.h>", ".PP"]
    lines = [func.prototype]
    if len(func.prototype) > 78:  # one parameter a line, aligned after the parenthesis
        head, args = func.prototype.split("(", 1)
        pieces = [a.strip() for a in args.split(",")]
        indent = " " * (len(head) + 1)
        lines = [head + "(" + pieces[0] + ","] + [indent + p + "," for p in pieces[1:-1]] + [indent + pieces[-1]]
    proto = "\n".join(escape(l) for l in lines)
    proto = proto.replace(escape(func.name) + "(", "\\fB%s\\fR(" % escape(func.name), 1)
    for p in params:
        proto = re.sub(r"\b%s(?=[,)])" % re.escape(escape(p)), "\\\\fI%s\\\\fR" % escape(p), proto)
    out += [proto, ".fi"]

    out.append(".SH DESCRIPTION")
    for para in description or ["See fdsafe(7)."]:
        out += [".PP", paragraph(para, params)]
    for para in parts.get("Ownership", []):
        out += [".PP", paragraph("Ownership: " + para, params)]
    used_types = [types[t] for t in dict.fromkeys(re.findall(r"\bfdsafe_\w+", func.prototype))
                  if t in types and "{" in types[t].code]
    for t in used_types:
        out += [".SS %s" % escape(t.name), ".PP", paragraph(t.doc) if t.doc else "", ".PP", ".EX"]
        out += [escape(l.rstrip()) for l in re.sub(r"/\*\*.*?\*/\n?", "", t.code, flags=re.S).splitlines()
                if l.strip()]
        out.append(".EE")
        for field_doc, decl in re.findall(r"/\*\*(.*?)\*/\s*\n\s*([^;\n]+);", t.code, re.S):
            field = re.findall(r"\w+", re.sub(r"\[.*?\]", "", decl))[-1]
            out += [".TP", "\\fI\\%%%s\\fR" % escape(field), paragraph(doc_text("/**%s*/" % field_doc))]
    consts = constants_named(func, section, used_types)
    if consts:
        out += [".SS Constants"]
        for c in consts:
            value = c.value[1:-1] if c.value.startswith("(") and c.value.endswith(")") else c.value
            out += [".TP", "\\fB%s\\fR (%s)" % (escape(c.name), escape(value))]
            out.append(paragraph(c.doc, params) if c.doc else "\\&")

    out.append(".SH RETURN VALUE")
    if returns:
        out += [".PP", paragraph(" ".join(returns), params)]
    if func.prototype.startswith(("int ", "int64_t ")):
        if not returns:
            out += [".PP", "On success, a value >= 0 (see DESCRIPTION)."]
        out += [".PP", "On failure, a negative code: \\fB\\-errno\\fR from the kernel, or an "
                "\\fBFDSAFE_E_*\\fR code of the library (see \\fBfdsafe\\fR(7)). "
                "Out\\-parameters are written only on success."]
    elif not returns:
        out += [".PP", "See DESCRIPTION."]

    errors = [e for para in parts.get("Errors", []) for e in split_top(para)]
    if errors:
        out.append(".SH ERRORS")
        for e in errors:
            out += [".IP \\(bu 2", paragraph(e, params)]
    if parts.get("Thread safety"):
        out.append(".SH THREAD SAFETY")
        for para in parts["Thread safety"]:
            out += [".PP", paragraph(para[0].upper() + para[1:], params)]

    siblings = [f.name for f in section.functions() if f.name != func.name]
    all_functions = {f.name for s in sections for f in s.functions()}
    mentioned = [n for n in dict.fromkeys(re.findall(r"\bfdsafe_\w+", func.doc))
                 if n in all_functions and n != func.name and n not in siblings]
    refs = [("fdsafe", 7)] + [(n, 3) for n in siblings + mentioned]
    out += [".SH SEE ALSO", ".ad l"]
    out += [".BR \\%%%s (%d)%s" % (escape(n), s, "," if i < len(refs) - 1 else "") for i, (n, s) in enumerate(refs)]
    return "\n".join(l for l in out if l != "") + "\n"


def constants_named(func, section, used_types):
    """Constants of the function's section that its comment (or a type it takes) names,
    directly or as `PREFIX_*`."""
    text = func.doc + " ".join(t.doc + t.code for t in used_types)
    names = set(re.findall(r"\bFDSAFE_\w+", text))
    prefixes = [n[:-1] for n in re.findall(r"\bFDSAFE_\w*_\*", text)]
    return [i for i in section.items if i.kind == "const"
            and (i.name in names or any(i.name.startswith(p) for p in prefixes))]


def overview(template, sections, version):
    lines = []
    for s in sections:
        funcs = s.functions()
        lines += [".TP", "\\fB%s\\fR" % escape(s.title), paragraph(s.about) if s.about else "\\&"]
        if funcs:
            lines += [".br", ", ".join("\\fB\\%%%s\\fR(3)" % escape(f.name) for f in funcs)]
    text = template.replace("@VERSION@", version)
    return text.replace("@SECTIONS@\n", "\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "man"))
    args = ap.parse_args()
    text = HEADER.read_text()
    version = re.search(r'#define FDSAFE_VERSION_STRING "([^"]+)"', text).group(1)
    sections = parse_header(text)
    if not sections:
        sys.exit("gen_man.py: no sections in %s (is it the arranged header?)" % HEADER)
    types = {i.name: i for s in sections for i in s.items if i.kind == "type"}
    man3, man7 = Path(args.out) / "man3", Path(args.out) / "man7"
    for d in (man3, man7):
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            old.unlink()
    count = 0
    for s in sections:
        for f in s.functions():
            (man3 / (f.name + ".3")).write_text(page(f, s, sections, version, types))
            count += 1
    (man7 / "fdsafe.7").write_text(overview(OVERVIEW.read_text(), sections, version))
    print("gen_man.py: %d pages in %s, fdsafe.7 in %s" % (count, man3, man7))


if __name__ == "__main__":
    main()
