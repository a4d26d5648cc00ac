// Checks the public-site browser tests run in the page (test_public_browser.py).
// Each is an arrow function expression that page.evaluate() calls.

// contrastProblems: WCAG 2.1 contrast of every element that holds text, against
// the colour actually painted behind it (ancestors' backgrounds composed).
// Large text (24 px, or 18.66 px bold) needs 3:1, the rest 4.5:1; the borders
// of text fields need the 3:1 of non-text contrast.
() => {
  const parse = (s) => {
    const m = s.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const lum = (c) => {
    const ch = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const background = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    let bg = [255, 255, 255, 1];
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && getComputedStyle(el).visibility !== "hidden" && !el.closest('[aria-hidden="true"]');
  };
  const problems = [];
  for (const el of document.body.querySelectorAll("*")) {
    const ownText = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!ownText || !shown(el)) continue;
    const s = getComputedStyle(el);
    const bg = background(el);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(s.fontWeight, 10) >= 700);
    const got = ratio(over(parse(s.color), bg), bg);
    const need = large ? 3 : 4.5;
    if (got < need) {
      problems.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${got.toFixed(2)} < ${need}`);
    }
  }
  for (const el of document.querySelectorAll("input[type=email], input[type=text], input[type=search]")) {
    if (!shown(el)) continue;
    const got = ratio(parse(getComputedStyle(el).borderTopColor), background(el.parentElement));
    if (got < 3) problems.push(`border of #${el.id} ${got.toFixed(2)} < 3`);
  }
  return problems;
}
