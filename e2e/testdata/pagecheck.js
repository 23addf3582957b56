// pagecheck.js holds the checks that the Chromium page tests run inside each
// page. They run through the DevTools protocol (Runtime.evaluate), which the
// pages' Content-Security-Policy does not govern; the pages themselves stay
// script-free. The file is one object literal: the test evaluates
// "(<this file>).method(args)" and gets plain JSON back.
({
  // describe names an element well enough to find it in the page source.
  describe(el) {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.classList && el.classList.length) s += '.' + [...el.classList].join('.');
    for (const a of ['type', 'name', 'value', 'href', 'hreflang', 'for']) {
      if (el.hasAttribute(a) && (a !== 'value' || el.tagName === 'BUTTON')) {
        const v = el.getAttribute(a);
        s += `[${a}=${v.length > 40 ? v.slice(0, 40) + '…' : v}]`;
      }
    }
    const text = (el.textContent || '').replace(/\s+/g, ' ').trim();
    if (text) s += ' "' + (text.length > 40 ? text.slice(0, 40) + '…' : text) + '"';
    return s;
  },

  // rendered: the element takes part in the layout and can be seen.
  rendered(el) {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  },

  // rgba converts any CSS colour to [r, g, b, a] with a in 0..1.
  rgba(color) {
    const m = color.match(/^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+)(%?))?\s*\)$/);
    if (m) {
      let a = m[4] === undefined ? 1 : parseFloat(m[4]);
      if (m[5]) a /= 100;
      return [+m[1], +m[2], +m[3], a];
    }
    // Other notations (color(), oklch(), ...): let a canvas convert them.
    const c = document.createElement('canvas');
    c.width = c.height = 1;
    const g = c.getContext('2d', {willReadFrequently: true});
    g.clearRect(0, 0, 1, 1);
    g.fillStyle = color;
    g.fillRect(0, 0, 1, 1);
    const d = g.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  },

  // over composites colour top over the opaque colour bottom.
  over(top, bottom) {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  },

  luminance(c) {
    const f = v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  },

  ratio(a, b) {
    const la = this.luminance(a), lb = this.luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  },

  hex(c) {
    return '#' + c.slice(0, 3).map(v => Math.round(v).toString(16).padStart(2, '0')).join('');
  },

  // background is the colour behind el: its own and its ancestors'
  // background colours, composited down to the first opaque one (or the
  // canvas). A background image makes it unknown.
  background(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage !== 'none') {
        return {unknown: `${this.describe(e)} has background-image ${cs.backgroundImage.slice(0, 80)}`};
      }
      const c = this.rgba(cs.backgroundColor);
      if (c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    let bg = this.canvas();
    for (let i = layers.length - 1; i >= 0; i--) bg = this.over(layers[i], bg);
    return {color: bg};
  },

  // canvas is the colour under everything: white, or Chrome's dark canvas
  // when the page allows a dark colour scheme and the reader prefers it.
  canvas() {
    const scheme = getComputedStyle(document.documentElement).colorScheme.split(/\s+/);
    const dark = scheme.includes('dark') &&
      (!scheme.includes('light') || matchMedia('(prefers-color-scheme: dark)').matches);
    return dark ? [18, 18, 18, 1] : [255, 255, 255, 1];
  },

  // ownText is the text el itself shows: its own text nodes, or for a
  // field the text typed into it.
  ownText(el) {
    if (el.matches('input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=image]):not([type=range]):not([type=color]), textarea, select')) {
      return el.value || '(typed text)';
    }
    let s = '';
    for (const n of el.childNodes) if (n.nodeType === Node.TEXT_NODE) s += n.nodeValue;
    return s.replace(/\s+/g, ' ').trim();
  },

  // idrefText is the text of the elements that an aria-labelledby names.
  idrefText(ids) {
    return (ids || '').split(/\s+/).filter(Boolean)
      .map(id => document.getElementById(id)).filter(Boolean)
      .map(e => e.textContent).join(' ').replace(/\s+/g, ' ').trim();
  },

  // accessibleName approximates the accessible name of a control.
  accessibleName(el) {
    const by = this.idrefText(el.getAttribute('aria-labelledby'));
    if (by) return by;
    const label = (el.getAttribute('aria-label') || '').trim();
    if (label) return label;
    if (el.labels && el.labels.length) {
      const t = [...el.labels].map(l => l.textContent).join(' ').replace(/\s+/g, ' ').trim();
      if (t) return t;
    }
    if (el.matches('input[type=submit], input[type=button], input[type=reset]')) return (el.value || '').trim();
    if (el.matches('input[type=image]')) return (el.getAttribute('alt') || '').trim();
    let t = '';
    const walk = n => {
      for (const c of n.childNodes) {
        if (c.nodeType === Node.TEXT_NODE) t += c.nodeValue;
        else if (c.nodeType === Node.ELEMENT_NODE && c.getAttribute('aria-hidden') !== 'true') {
          if (c.tagName === 'IMG') t += ' ' + (c.getAttribute('alt') || '') + ' ';
          else if (c.hasAttribute('aria-label')) t += ' ' + c.getAttribute('aria-label') + ' ';
          else walk(c);
        }
      }
    };
    walk(el);
    t = t.replace(/\s+/g, ' ').trim();
    if (t) return t;
    return (el.getAttribute('title') || '').trim();
  },

  // contrast lists every rendered element with its own text whose text
  // contrast is below minimum, with the colours; and the elements whose
  // background it cannot know.
  contrast(minimum) {
    const problems = [], notes = [];
    for (const el of [document.body, ...document.body.querySelectorAll('*')]) {
      if (el.matches('script, style, template, noscript, option')) continue;
      const text = this.ownText(el);
      if (!text || !this.rendered(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width <= 1 || r.height <= 1) continue; // visually hidden, for screen readers
      const cs = getComputedStyle(el);
      const bg = this.background(el);
      if (bg.unknown) {
        notes.push(`${this.describe(el)}: contrast not checked, ${bg.unknown}`);
        continue;
      }
      const fg = this.over(this.rgba(cs.color), bg.color);
      const ratio = this.ratio(fg, bg.color);
      if (ratio < minimum) {
        problems.push(`contrast ${ratio.toFixed(2)}:1 < ${minimum}:1 for ${this.describe(el)}: text ${cs.color} (${this.hex(fg)}) on ${this.hex(bg.color)}`);
      }
    }
    return {problems, notes};
  },

  // audit runs the static checks: labels, alt texts, accessible names,
  // contrast. It opens every <details> first, so their contents are
  // checked too, and closes them again.
  audit(minimum) {
    const closed = [...document.querySelectorAll('details:not([open])')];
    closed.forEach(d => d.open = true);
    try {
      const problems = [];
      for (const el of document.querySelectorAll('input, select, textarea')) {
        if (el.matches('input[type=hidden], input[type=submit], input[type=button], input[type=reset], input[type=image]')) continue;
        if (!el.checkVisibility()) continue;
        const labelled = [...(el.labels || [])].some(l => l.textContent.trim()) ||
          (el.getAttribute('aria-label') || '').trim() ||
          this.idrefText(el.getAttribute('aria-labelledby'));
        if (!labelled) problems.push(`field ${this.describe(el)} has no label (no <label for>, aria-label or aria-labelledby with text)`);
      }
      for (const img of document.querySelectorAll('img, input[type=image], [role=img]')) {
        if (!img.checkVisibility()) continue;
        const alt = img.tagName === 'IMG' || img.tagName === 'INPUT' ? img.getAttribute('alt') : this.accessibleName(img);
        if (!(alt || '').trim()) problems.push(`image ${this.describe(img)} (src ${(img.getAttribute('src') || '').slice(0, 60)}) has no alt text`);
      }
      for (const el of document.querySelectorAll('a[href], button, input[type=submit], input[type=button], input[type=reset], summary, [role=button], [role=link]')) {
        if (!el.checkVisibility()) continue;
        if (!this.accessibleName(el)) problems.push(`${el.tagName === 'A' ? 'link' : 'button'} ${this.describe(el)} has no accessible text`);
      }
      const c = this.contrast(minimum);
      return {problems: problems.concat(c.problems), notes: c.notes};
    } finally {
      closed.forEach(d => d.open = false);
    }
  },

  // overflow says whether the document scrolls sideways, and which
  // elements stick out (the innermost ones), with <details> opened or not.
  overflow(openDetails) {
    const closed = openDetails ? [...document.querySelectorAll('details:not([open])')] : [];
    closed.forEach(d => d.open = true);
    try {
      const d = document.documentElement;
      const out = {scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, wide: []};
      if (d.scrollWidth > d.clientWidth) {
        const wide = [...document.body.querySelectorAll('*')].filter(el =>
          this.rendered(el) && el.getBoundingClientRect().right > d.clientWidth + 0.5);
        out.wide = wide.filter(el => !wide.some(o => o !== el && el.contains(o)))
          .slice(0, 5)
          .map(el => `${this.describe(el)} (${Math.round(el.getBoundingClientRect().width)}px wide, right edge at ${Math.round(el.getBoundingClientRect().right)}px)`);
      }
      return out;
    } finally {
      closed.forEach(d => d.open = false);
    }
  },

  // tabStart lists, in DOM order, the controls the keyboard must reach,
  // and marks them.
  tabStart() {
    const sel = 'a[href], area[href], button, input, select, textarea, summary, iframe, [tabindex], [contenteditable]';
    const list = [...document.querySelectorAll(sel)].filter(el =>
      !el.matches('input[type=hidden]') && !el.disabled && el.tabIndex >= 0 && this.rendered(el) &&
      !(el.tagName === 'SUMMARY' && el.parentElement.querySelector(':scope > summary') !== el));
    window.__ghTab = list.map(el => getComputedStyle(el).boxShadow);
    list.forEach((el, i) => el.setAttribute('data-gh-tab', i));
    return list.map(el => this.describe(el));
  },

  // tabFocused describes the focused element and whether it shows that it
  // has the focus.
  tabFocused() {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) {
      return {index: -1, outside: true, desc: 'nothing (focus left the page)', indicator: false, style: ''};
    }
    const cs = getComputedStyle(el);
    const index = el.hasAttribute('data-gh-tab') ? +el.getAttribute('data-gh-tab') : -1;
    const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0 && this.rgba(cs.outlineColor)[3] > 0;
    const shadow = cs.boxShadow !== 'none' && (index < 0 || cs.boxShadow !== window.__ghTab[index]);
    return {
      index,
      outside: false,
      desc: this.describe(el),
      indicator: outline || shadow,
      style: `outline: ${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}; box-shadow: ${cs.boxShadow}`,
    };
  },

  tabEnd() {
    document.querySelectorAll('[data-gh-tab]').forEach(el => el.removeAttribute('data-gh-tab'));
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    delete window.__ghTab;
  },

  // drawsDistinct reports whether the browser draws the two characters
  // differently in font, which it does not when no font has them and both
  // come out as the same missing-glyph box.
  drawsDistinct(a, b, font) {
    const draw = ch => {
      const c = document.createElement('canvas');
      c.width = c.height = 48;
      const g = c.getContext('2d', {willReadFrequently: true});
      g.font = font;
      g.fillText(ch, 4, 36);
      return g.getImageData(0, 0, 48, 48).data.join(',');
    };
    return draw(a) !== draw(b);
  },

  // element reports what the tests assert about one element.
  element(sel) {
    const el = document.querySelector(sel);
    if (!el) return {found: false};
    const attrs = {};
    for (const a of el.attributes) attrs[a.name] = a.value;
    const r = el.getBoundingClientRect();
    return {
      found: true,
      text: (el.textContent || '').replace(/\s+/g, ' ').trim(),
      attrs,
      visible: this.rendered(el),
      labels: [...(el.labels || [])].map(l => ({for: l.htmlFor, text: l.textContent.replace(/\s+/g, ' ').trim()})),
      width: r.width,
      height: r.height,
      style: (() => {
        const cs = getComputedStyle(el);
        return {fontWeight: cs.fontWeight, backgroundColor: cs.backgroundColor, backgroundImage: cs.backgroundImage, color: cs.color, fontSize: cs.fontSize};
      })(),
    };
  },

  // count counts the elements matching sel.
  count(sel) {
    return document.querySelectorAll(sel).length;
  },

  // switcher checks the language switcher of a page in the language cur:
  // a link to each other language, and the entry of cur marked
  // aria-current="true" (a link or not).
  switcher(cur, langs) {
    const nav = document.querySelector('nav.languages');
    if (!nav) return ['no language switcher (nav.languages)'];
    const problems = [];
    for (const l of langs.filter(l => l !== cur)) {
      const link = nav.querySelector(`a[hreflang="${l}"][href]`);
      if (!link) problems.push(`nav.languages has no link a[hreflang=${l}][href]`);
      else if (link.getAttribute('aria-current') === 'true') problems.push(`nav.languages: the link to ${l} is marked aria-current="true" on a page in ${cur}`);
    }
    const current = [...nav.querySelectorAll('[aria-current="true"]')];
    if (current.length !== 1) {
      problems.push(`nav.languages has ${current.length} entries marked aria-current="true", want 1, the one for ${cur}: ${nav.innerHTML.replace(/\s+/g, ' ').trim().slice(0, 200)}`);
    } else {
      const e = current[0], said = e.getAttribute('hreflang') || e.getAttribute('lang');
      if (said && said !== cur) problems.push(`nav.languages marks the entry for ${said} as current on a page in ${cur}`);
    }
    const own = nav.querySelector(`a[hreflang="${cur}"]`);
    if (own && own.getAttribute('aria-current') !== 'true') problems.push(`nav.languages: the link to the page's own language ${cur} is not marked aria-current="true"`);
    return problems;
  },
})
