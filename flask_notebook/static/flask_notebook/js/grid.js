// A virtual ARIA grid: only the rows in view (plus a margin) are in the DOM, so a folder of
// tens of thousands of entries renders and scrolls as fast as a small one.
//
// Focus stays on the grid element; the active row is named by aria-activedescendant and
// always scrolled into view when the keyboard moves it. Rows carry aria-rowindex and the
// grid aria-rowcount, so assistive technology knows where a row sits in the whole list.
// Keyboard: Up/Down/Home/End/PageUp/PageDown move (Shift extends the selection), Space
// toggles, Ctrl-A selects all, Esc clears, Enter opens; other keys go to `onKey`.

const OVERSCAN = 8;

export class VirtualGrid {
  /**
   * @param {object} options
   *   grid, body, sizer: the elements (the grid, its scrolling body, the body's sized content)
   *   key(item): a stable key per item (the API path)
   *   renderRow(item, row): fill a fresh row element's cells
   *   onOpen(item), onSelectionChange(), onKey(event): returns true when it handled the key
   */
  constructor({ grid, body, sizer, key, renderRow, onOpen, onSelectionChange, onKey }) {
    Object.assign(this, { grid, body, sizer, key, renderRow, onOpen, onSelectionChange, onKey });
    this.items = [];
    this.selected = new Set();
    this.active = -1;
    this.anchor = -1;
    this.rows = new Map(); // index -> row element
    this.rowHeight = 32;
    this.frame = 0;
    this.body.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(this.body);
    this.grid.addEventListener("keydown", (event) => this.handleKey(event));
    this.sizer.addEventListener("click", (event) => this.handleClick(event));
    this.sizer.addEventListener("dblclick", (event) => {
      const index = this.indexOf(event.target);
      if (index >= 0 && !event.target.closest("a, input, button")) this.onOpen(this.items[index]);
    });
  }

  /** Replace the items (already sorted and filtered), keeping the selection of those still there. */
  setItems(items) {
    const activeKey = this.active >= 0 && this.items[this.active] ? this.key(this.items[this.active]) : null;
    this.items = items;
    const keys = new Set(items.map(this.key));
    for (const key of this.selected) if (!keys.has(key)) this.selected.delete(key);
    this.active = activeKey === null ? -1 : items.findIndex((item) => this.key(item) === activeKey);
    if (this.active < 0 && items.length) this.active = Math.min(Math.max(this.anchor, 0), items.length - 1);
    this.anchor = this.active;
    this.rowHeight = parseFloat(getComputedStyle(this.grid).getPropertyValue("--nb-row-height")) || 32;
    this.sizer.style.height = `${items.length * this.rowHeight}px`;
    this.grid.setAttribute("aria-rowcount", String(items.length + 1));
    this.clearRows();
    this.render();
    this.onSelectionChange();
  }

  selectedItems() {
    return this.items.filter((item) => this.selected.has(this.key(item)));
  }

  /** Select exactly the item with `key` (if present), make it active and scroll to it. */
  selectKey(key) {
    const index = this.items.findIndex((item) => this.key(item) === key);
    if (index >= 0) {
      this.selectOnly(index);
      this.scrollToIndex(index);
    }
  }

  selectOnly(index) {
    this.selected.clear();
    if (index >= 0) this.selected.add(this.key(this.items[index]));
    this.active = this.anchor = index;
    this.refreshSelection();
  }

  toggle(index) {
    const key = this.key(this.items[index]);
    if (this.selected.has(key)) this.selected.delete(key);
    else this.selected.add(key);
    this.active = this.anchor = index;
    this.refreshSelection();
  }

  selectRange(index) {
    const start = Math.max(0, Math.min(this.anchor, index));
    const end = Math.max(this.anchor, index);
    this.selected.clear();
    for (let i = start; i <= end; i += 1) this.selected.add(this.key(this.items[i]));
    this.active = index;
    this.refreshSelection();
  }

  setAll(on) {
    this.selected.clear();
    if (on) for (const item of this.items) this.selected.add(this.key(item));
    this.refreshSelection();
  }

  scrollToIndex(index) {
    const top = index * this.rowHeight;
    const view = this.body.clientHeight;
    if (top < this.body.scrollTop) this.body.scrollTop = top;
    else if (top + this.rowHeight > this.body.scrollTop + view) this.body.scrollTop = top + this.rowHeight - view;
    this.render();
  }

  // -- rendering ---------------------------------------------------------------------------

  schedule() {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }
  }

  clearRows() {
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
  }

  /** Add the rows that came into view and drop those that left it. */
  render() {
    const height = this.rowHeight;
    const first = Math.max(0, Math.floor(this.body.scrollTop / height) - OVERSCAN);
    const visible = Math.ceil((this.body.clientHeight || 600) / height);
    const last = Math.min(this.items.length - 1, first + visible + 2 * OVERSCAN);
    for (const [index, row] of this.rows) {
      if (index < first || index > last) {
        row.remove();
        this.rows.delete(index);
      }
    }
    // Rows in the DOM stay a contiguous run in list order (what a screen reader walks):
    // new rows above the run are prepended, new rows below it appended.
    const kept = [...this.rows.keys()];
    const lowest = kept.length ? Math.min(...kept) : Infinity;
    const above = document.createDocumentFragment();
    const below = document.createDocumentFragment();
    for (let index = first; index <= last; index += 1) {
      if (!this.rows.has(index)) {
        const row = this.makeRow(index);
        this.rows.set(index, row);
        (index < lowest ? above : below).append(row);
      }
    }
    this.sizer.prepend(above);
    this.sizer.append(below);
    this.updateActiveDescendant();
  }

  makeRow(index) {
    const item = this.items[index];
    const row = document.createElement("div");
    row.className = "nb-row";
    row.id = `nb-row-${index}`;
    row.setAttribute("role", "row");
    row.setAttribute("aria-rowindex", String(index + 2));
    row.style.transform = `translateY(${index * this.rowHeight}px)`;
    row.dataset.index = String(index);
    this.renderRow(item, row);
    this.paintSelection(row, index);
    return row;
  }

  paintSelection(row, index) {
    const selected = this.selected.has(this.key(this.items[index]));
    row.setAttribute("aria-selected", String(selected));
    row.classList.toggle("nb-active", index === this.active);
    const box = row.querySelector("input[type=checkbox]");
    if (box) box.checked = selected;
  }

  refreshSelection() {
    for (const [index, row] of this.rows) this.paintSelection(row, index);
    this.updateActiveDescendant();
    this.onSelectionChange();
  }

  updateActiveDescendant() {
    const row = this.rows.get(this.active);
    if (row) this.grid.setAttribute("aria-activedescendant", row.id);
    else this.grid.removeAttribute("aria-activedescendant");
  }

  // -- input -------------------------------------------------------------------------------

  indexOf(target) {
    const row = target.closest && target.closest(".nb-row[data-index]");
    return row ? Number(row.dataset.index) : -1;
  }

  handleClick(event) {
    const index = this.indexOf(event.target);
    if (index < 0) return;
    if (event.target.closest("input[type=checkbox]")) {
      this.toggle(index);
      return;
    }
    if (event.target.closest("a, button")) return; // links open; the tree decides how
    if (event.shiftKey) this.selectRange(index);
    else if (event.ctrlKey || event.metaKey) this.toggle(index);
    else this.selectOnly(index);
    this.grid.focus({ preventScroll: true });
  }

  handleKey(event) {
    if (event.target !== this.grid) return; // keys in the header's buttons are theirs
    const count = this.items.length;
    const page = Math.max(1, Math.floor(this.body.clientHeight / this.rowHeight) - 1);
    const moves = {
      ArrowDown: this.active + 1, ArrowUp: this.active - 1, Home: 0, End: count - 1,
      PageDown: this.active + page, PageUp: this.active - page,
    };
    if (event.key in moves && count) {
      event.preventDefault();
      const index = Math.min(count - 1, Math.max(0, moves[event.key]));
      if (event.shiftKey) this.selectRange(index);
      else if (event.ctrlKey || event.metaKey) {
        this.active = index;
        this.refreshSelection();
      } else this.selectOnly(index);
      this.scrollToIndex(index);
      return;
    }
    if (event.key === " " && this.active >= 0 && count) {
      event.preventDefault();
      this.toggle(this.active);
    } else if (event.key === "Enter" && this.active >= 0 && count) {
      event.preventDefault();
      this.onOpen(this.items[this.active]);
    } else if (event.key.toLowerCase() === "a" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.setAll(true);
    } else if (event.key === "Escape") {
      this.setAll(false);
    } else if (this.onKey(event)) {
      event.preventDefault();
    }
  }
}
