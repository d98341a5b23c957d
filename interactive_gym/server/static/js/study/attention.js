// @ts-check
/**
 * Calling the participant back to the page when something they waited for happens (their
 * group is complete, "Are you still there?"): the tab's title flashes until the tab is
 * visible, and a short tone plays. Both are best effort: a browser that blocks sound without
 * a click on the page, or has no Web Audio, just stays silent.
 * Used by scenes/waiting_room.js.
 * @module study/attention
 */

/**
 * Flash `text` in the tab's title (alternating with the title it had) until the tab is
 * visible; nothing happens while it is visible already.
 * @param {string} text
 * @param {{periodMs?: number}} [options]
 * @returns {() => void} stops the flashing now and restores the title
 */
export function flashTitle(text, { periodMs = 1000 } = {}) {
  if (document.visibilityState === "visible") return () => {};
  const original = document.title;
  let showing = false;
  const timer = setInterval(() => {
    showing = !showing;
    document.title = showing ? text : original;
  }, periodMs);
  const stop = () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisibility);
    document.title = original;
  };
  const onVisibility = () => {
    if (document.visibilityState === "visible") stop();
  };
  document.addEventListener("visibilitychange", onVisibility);
  document.title = text;
  showing = true;
  return stop;
}

/**
 * Play a short, soft two-note tone (Web Audio). Failures (no audio, sound blocked until the
 * page is clicked) are ignored.
 * @param {{frequency?: number, durationMs?: number, volume?: number}} [options]
 */
export function playTone({ frequency = 880, durationMs = 180, volume = 0.15 } = {}) {
  try {
    const Context = window.AudioContext ?? /** @type {any} */ (window).webkitAudioContext;
    if (!Context) return;
    /** @type {AudioContext} */
    const audio = new Context();
    audio.resume().catch(() => {});
    const seconds = durationMs / 1000;
    const start = audio.currentTime + 0.02;
    [frequency, frequency * 1.5].forEach((hz, i) => {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      const at = start + i * seconds;
      oscillator.type = "sine";
      oscillator.frequency.value = hz;
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(volume, at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + seconds);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(at);
      oscillator.stop(at + seconds);
    });
    setTimeout(() => audio.close().catch(() => {}), 2 * durationMs + 500);
  } catch {
    // no sound: the title still flashes
  }
}

/**
 * Flash the title (until the tab is visible) and play the tone.
 * @param {string} text  the title to flash, e.g. "Your group is ready!"
 * @returns {() => void} stops the flashing
 */
export function callAttention(text) {
  playTone();
  return flashTitle(text);
}
