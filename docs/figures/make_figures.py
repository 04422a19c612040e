"""Write the course figures as small SVG files and PNG copies (python docs/figures/make_figures.py).

The notebooks embed each figure as a cell attachment ``<name>.svg`` that holds both: JupyterLab shows an
attachment only as a raster image (png, jpeg, gif, webp, bmp; an SVG attachment stays a broken image with an error
in the browser's console) and takes the attachment's first type, which is ``image/png`` (nbformat sorts the keys);
nbconvert (feedback, Formgrader) prefers ``image/svg+xml``. nbgrader's release keeps attachments.

After changing a figure, run this script: it writes ``<name>.svg`` and ``<name>.png`` (rendered by Chromium through
Playwright, as the browser tests use it) and puts both into every attachment ``<name>.svg`` of ``source/``; then
release the notebooks it names (``python -m course release <Aufgabe>``).
"""

import base64
import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def svg(width, height, body):
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">\n'
        '<defs><marker id="pfeil" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n{body}</svg>\n'
    )


def text(x, y, s, size=15, anchor="middle", style=""):
    return f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" {FONT} {style}>{s}</text>\n'


def arrow(x1, y1, x2, y2, color="#444", width=1.5):
    return (
        f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="{width}" '
        'marker-end="url(#pfeil)"/>\n'
    )


def circle(x, y, r, fill, stroke="#333"):
    return f'<circle cx="{x}" cy="{y}" r="{r}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>\n'


def neuron():
    """Inputs x1..x3, weights w1..w3, the sum plus bias, the activation function, the output."""
    body = ""
    ys = [60, 130, 200]
    for i, y in enumerate(ys, start=1):
        body += circle(60, y, 22, "#dbeafe")
        body += text(60, y + 5, f"x<tspan baseline-shift='sub' font-size='11'>{i}</tspan>")
        body += arrow(84, y, 268, 130 + (y - 130) * 0.25)
        label = f"w<tspan baseline-shift='sub' font-size='11'>{i}</tspan>"
        body += text(175, (y + 130 + (y - 130) * 0.25) / 2 - 8, label, 14)
    body += circle(310, 130, 40, "#fde68a")
    body += text(310, 127, "Σ wᵢxᵢ", 15)
    body += text(310, 147, "+ b", 15)
    body += arrow(350, 130, 418, 130)
    body += text(384, 120, "z", 14, style='font-style="italic"')
    body += '<rect x="420" y="105" width="80" height="50" rx="8" fill="#bbf7d0" stroke="#333" stroke-width="1.5"/>\n'
    body += text(460, 136, "f", 18, style='font-style="italic"')
    body += arrow(500, 130, 570, 130)
    body += text(610, 135, "a = f(z)", 15)
    body += text(60, 255, "Eingaben", 13)
    body += text(175, 255, "Gewichte", 13)
    body += text(310, 255, "gewichtete Summe", 13)
    body += text(310, 272, "plus Bias", 13)
    body += text(460, 255, "Aktivierungs-", 13)
    body += text(460, 272, "funktion", 13)
    body += text(610, 255, "Ausgabe", 13)
    return svg(680, 290, body)


def mlp():
    """The course's net 1 -> 16 -> 16 -> 16 -> 1, with five drawn neurons standing for sixteen."""
    layers = [(1, "Eingabe x", "#dbeafe"), (16, "verdeckte", "#fde68a"), (16, "verdeckte", "#fde68a"),
              (16, "verdeckte", "#fde68a"), (1, "Ausgabe ŷ", "#bbf7d0")]  # fmt: skip
    xs = [60, 200, 340, 480, 620]
    shown = {1: [170], 16: [50, 100, 150, 240, 290]}  # the gap between 150 and 240 holds the dots
    body = ""
    for (n, _, _), (m, _, _), x1, x2 in zip(layers, layers[1:], xs, xs[1:], strict=False):
        for y1 in shown[n]:
            for y2 in shown[m]:
                body += f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#9ca3af" stroke-width="0.8"/>\n'
    for k, ((n, name, color), x) in enumerate(zip(layers, xs, strict=True)):
        for y in shown[n]:
            body += circle(x, y, 15, color)
        if n == 16:
            body += text(x, 200, "⋮", 22)
            body += text(x, 335, f"{name} Schicht {k}", 13)
            body += text(x, 352, "16 Neuronen", 13)
        else:
            body += text(x, 335, name, 13)
            body += text(x, 352, "1 Wert" if k == 0 else "1 Neuron", 13)
    for k, (x1, x2) in enumerate(zip(xs, xs[1:], strict=False), start=1):
        body += text((x1 + x2) / 2, 22, f"Linear {k}", 12, style='fill="#555"')
    return svg(680, 370, body)


FIGURES = {"neuron": neuron, "mlp": mlp}
SOURCE = HERE.parents[1] / "source"


def render_png(svg_text: str, path: Path) -> None:
    """The SVG as a PNG of the same size in pixels (white background), rendered by Chromium."""
    from playwright.sync_api import sync_playwright

    chromium = "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium if os.path.exists(chromium) else None)
        try:
            page = browser.new_page(device_scale_factor=1)
            page.set_content(f'<html><body style="margin:0">{svg_text}</body></html>')
            page.locator("svg").first.screenshot(path=str(path))
        finally:
            browser.close()


def attach(names: list[str]) -> list[Path]:
    """Put ``<name>.svg`` and ``<name>.png`` into every attachment ``<name>.svg`` of the notebooks in source/."""
    import nbformat

    changed = []
    for path in sorted(SOURCE.glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        before = json.dumps(nb, sort_keys=True)
        for cell in nb.cells:
            for name in names:
                bundle = cell.get("attachments", {}).get(f"{name}.svg")
                if bundle is not None:
                    for mime, suffix in (("image/svg+xml", "svg"), ("image/png", "png")):
                        bundle[mime] = base64.b64encode((HERE / f"{name}.{suffix}").read_bytes()).decode()
        if json.dumps(nb, sort_keys=True) != before:
            nbformat.write(nb, path)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for name, make in FIGURES.items():
        (HERE / f"{name}.svg").write_text(make(), encoding="utf-8")
        render_png(make(), HERE / f"{name}.png")
        print("geschrieben:", HERE / f"{name}.svg", HERE / f"{name}.png")
    for path in attach(list(FIGURES)):
        print("angehängt:", path)
