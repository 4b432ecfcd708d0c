// Word-level diff (Myers' O(ND) algorithm) for comparing memory versions. Common
// prefixes and suffixes are trimmed first, so a typical small edit costs almost nothing;
// a huge rewrite falls back to lines, then to "all removed, all added".

const MAX_EDITS = 1500;

export function diffText(before, after) {
  const words = diffTokens(tokenize(before), tokenize(after));
  if (words) return words;
  const lines = diffTokens(splitLines(before), splitLines(after));
  if (lines) return lines;
  return merge([['del', before], ['ins', after]].filter(([, t]) => t));
}

function tokenize(text) {
  return String(text || '').split(/(\s+)/).filter(Boolean);
}

function splitLines(text) {
  return String(text || '').split(/(?<=\n)/).filter(Boolean);
}

function diffTokens(a, b) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
  const middle = myers(a.slice(start, endA), b.slice(start, endB));
  if (!middle) return null;
  const ops = [
    ...a.slice(0, start).map((t) => ['eq', t]),
    ...middle,
    ...a.slice(endA).map((t) => ['eq', t]),
  ];
  return tidy(merge(ops));
}

// Readability: a lone space or tiny word kept between two changes makes a diff look
// like confetti; fold it into the change, then show each change as one removal + one
// addition.
function tidy(parts) {
  const out = [];
  let del = '';
  let ins = '';
  const flush = () => {
    if (del) out.push({ op: 'del', text: del });
    if (ins) out.push({ op: 'ins', text: ins });
    del = '';
    ins = '';
  };
  parts.forEach((part, i) => {
    const inside = i > 0 && i < parts.length - 1;
    if (part.op === 'eq' && !(inside && part.text.trim().length <= 3)) {
      flush();
      out.push(part);
    } else {
      if (part.op !== 'ins') del += part.text;
      if (part.op !== 'del') ins += part.text;
    }
  });
  flush();
  return out;
}

function myers(a, b) {
  const n = a.length;
  const m = b.length;
  const limit = Math.min(n + m, MAX_EDITS);
  const off = limit + 1;
  const v = new Int32Array(2 * limit + 3);
  const trace = [];
  for (let d = 0; d <= limit; d++) {
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = (k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]))
        ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) { x++; y++; }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, d);
    }
  }
  return null;
}

function backtrack(trace, a, b, last) {
  let x = a.length;
  let y = b.length;
  const ops = [];
  for (let d = last; d > 0; d--) {
    const vd = trace[d];
    const at = (k) => vd[k + d + 1];
    const k = x - y;
    const prevK = (k === -d || (k !== d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) { ops.push(['eq', a[x - 1]]); x--; y--; }
    if (x === prevX) ops.push(['ins', b[y - 1]]);
    else ops.push(['del', a[x - 1]]);
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) { ops.push(['eq', a[x - 1]]); x--; y--; }
  return ops.reverse();
}

function merge(ops) {
  const out = [];
  for (const [op, text] of ops) {
    const prev = out[out.length - 1];
    if (prev && prev.op === op) prev.text += text;
    else out.push({ op, text });
  }
  return out;
}
