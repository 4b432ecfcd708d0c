// DOM building without HTML parsing: every string becomes a text node or an attribute
// value, so memory text can never turn into markup. Nothing here (or anywhere in the
// inspector) uses innerHTML; the CSP's Trusted Types directive makes such a slip throw.

/**
 * h('a', {href: '#/', class: 'x', on: {click: fn}}, 'text', child, [more])
 * Props: class, text, on, dataset, and attributes; booleans toggle attributes.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') {
      el[key] = value;
    } else {
      el.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Hash links: every segment is URI-encoded, so ids cannot break out of the route. */
export function link(...segments) {
  const [path, query] = splitQuery(segments);
  const url = '#/' + path.map((s) => encodeURIComponent(s)).join('/');
  const qs = query ? new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''),
  ).toString() : '';
  return qs ? `${url}?${qs}` : url;
}

function splitQuery(segments) {
  const last = segments[segments.length - 1];
  if (last && typeof last === 'object') return [segments.slice(0, -1), last];
  return [segments, null];
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const ABSOLUTE = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});

export function absoluteTime(iso) {
  return iso ? ABSOLUTE.format(new Date(iso)) : '—';
}

export function relativeTime(iso) {
  if (!iso) return '—';
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'],
    [12, 'month'], [Infinity, 'year']];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return RELATIVE.format(Math.round(value), unit);
    value /= size;
  }
  return absoluteTime(iso);
}

/** A <time> showing "3 minutes ago" with the exact time on hover. */
export function timeEl(iso) {
  return h('time', { datetime: iso || '', title: iso ? new Date(iso).toISOString() : '' },
    relativeTime(iso));
}

export function plural(n, word, many = word + 's') {
  return `${n.toLocaleString()} ${n === 1 ? word : many}`;
}

export function excerpt(text, max = 220) {
  const flat = String(text || '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat;
}
