// The autosave clock of the notebook page and the file editor: `tick` every `seconds` (0:
// never), changed while the page is open when the person's setting changes.

export class AutosaveClock {
  constructor(tick) {
    this.tick = tick;
    this.seconds = 0;
    this.timer = null;
  }

  set(seconds) {
    if (seconds === this.seconds) return;
    this.seconds = seconds;
    clearInterval(this.timer);
    this.timer = seconds > 0 ? setInterval(this.tick, seconds * 1000) : null;
  }
}
