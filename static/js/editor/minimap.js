// OrderFlow editor: the overview in the canvas corner.
//
// The node boxes are painted on a <canvas> when the flow changes; a pan or zoom only moves
// the outline of the visible area, at most once a frame. A second, cloned SVG graph (what
// graph libraries usually ship as their minimap) redraws on every pan and halves the frame
// rate of a 200-node flow. Click or drag in the overview to move the view there.
(function () {
  'use strict';
  const OF = (window.OF = window.OF || {});
  const PAD = 8;
  const BOXES = ['cell:added', 'cell:removed', 'model:reseted', 'node:change:position', 'node:change:size'];
  const VIEW = ['translate', 'scale', 'resize'];

  class MiniMap {
    constructor(graph, container) {
      this.graph = graph;
      this.container = container;
      this.canvas = document.createElement('canvas');
      this.outline = document.createElement('div');
      this.outline.className = 'ed-minimap-view';
      container.append(this.canvas, this.outline);
      this.fit = null; // where the flow's bounding box sits in the overview
      this.pending = 0; // 1: move the outline, 2: paint the boxes too
      for (const name of BOXES) graph.on(name, () => this.schedule(2));
      for (const name of VIEW) graph.on(name, () => this.schedule(1));
      container.addEventListener('pointerdown', (e) => {
        e.preventDefault();
        container.setPointerCapture(e.pointerId);
        this.dragging = true;
        this.moveTo(e);
      });
      container.addEventListener('pointermove', (e) => { if (this.dragging) this.moveTo(e); });
      const stop = () => { this.dragging = false; };
      container.addEventListener('pointerup', stop);
      container.addEventListener('pointercancel', stop);
      this.schedule(2);
    }

    schedule(level) {
      if (!this.pending) requestAnimationFrame(() => this.draw());
      this.pending = Math.max(this.pending, level);
    }

    draw() {
      const level = this.pending;
      this.pending = 0;
      if (level === 2) this.paintBoxes();
      this.placeOutline();
    }

    paintBoxes() {
      const w = this.container.clientWidth;
      const h = this.container.clientHeight;
      const ratio = window.devicePixelRatio || 1;
      this.canvas.width = Math.round(w * ratio);
      this.canvas.height = Math.round(h * ratio);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${h}px`;
      const ctx = this.canvas.getContext('2d');
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, w, h);
      const boxes = this.graph.getNodes().map((n) => n.getBBox());
      if (!boxes.length || w <= 2 * PAD || h <= 2 * PAD) {
        this.fit = null;
        return;
      }
      let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
      for (const b of boxes) {
        x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y);
        x1 = Math.max(x1, b.x + b.width); y1 = Math.max(y1, b.y + b.height);
      }
      const scale = Math.min((w - 2 * PAD) / Math.max(x1 - x0, 1), (h - 2 * PAD) / Math.max(y1 - y0, 1));
      const ox = (w - (x1 - x0) * scale) / 2;
      const oy = (h - (y1 - y0) * scale) / 2;
      this.fit = { x0, y0, scale, ox, oy };
      ctx.fillStyle = '#94a3b8';
      for (const b of boxes) {
        ctx.fillRect(ox + (b.x - x0) * scale, oy + (b.y - y0) * scale,
          Math.max(b.width * scale, 1.5), Math.max(b.height * scale, 1.5));
      }
    }

    placeOutline() {
      const f = this.fit;
      this.outline.hidden = !f;
      if (!f) return;
      const area = this.graph.getGraphArea(); // the visible part, in flow coordinates
      const s = this.outline.style;
      s.left = `${f.ox + (area.x - f.x0) * f.scale}px`;
      s.top = `${f.oy + (area.y - f.y0) * f.scale}px`;
      s.width = `${area.width * f.scale}px`;
      s.height = `${area.height * f.scale}px`;
    }

    moveTo(e) {
      const f = this.fit;
      if (!f) return;
      const r = this.container.getBoundingClientRect();
      const x = f.x0 + (e.clientX - r.left - f.ox) / f.scale;
      const y = f.y0 + (e.clientY - r.top - f.oy) / f.scale;
      this.graph.centerPoint(x, y);
    }
  }

  OF.MiniMap = MiniMap;
})();
