// @ts-check
/**
 * Main-thread stall monitor, loaded as a classic script at the top of a benchmark page so it
 * starts with the page: a 4 ms timer records the longest gap between its ticks, and a
 * PerformanceObserver collects Long Tasks (main-thread work of 50 ms or more).
 *
 *   const stall = window.stallMonitor.stop();
 *   // {stallMs, maxGapMs, maxGapAt, longTaskMaxMs, longTaskCount, longTasks, ticks,
 *   //  monitoredMs, startedAt}
 *
 * `stallMs` is the larger of the longest tick gap and the longest Long Task that started
 * before `stop()`; `maxGapAt` is when the longest gap began (ms since navigation start). The
 * gap still open when `stop()` is called counts too.
 */
(() => {
  const INTERVAL_MS = 4;
  const startedAt = performance.now();
  let last = startedAt;
  let maxGapMs = 0;
  let maxGapAt = startedAt;
  let ticks = 0;
  /** @type {{startTime: number, duration: number}[]} */
  const longTasks = [];

  /** @param {number} now */
  const tick = (now) => {
    const gap = now - last;
    if (gap > maxGapMs) {
      maxGapMs = gap;
      maxGapAt = last;
    }
    last = now;
    ticks += 1;
  };
  const timer = setInterval(() => tick(performance.now()), INTERVAL_MS);

  /** @param {PerformanceEntryList} entries */
  const keep = (entries) => {
    for (const e of entries) longTasks.push({ startTime: e.startTime, duration: e.duration });
  };
  /** @type {PerformanceObserver | null} */
  let observer = null;
  try {
    observer = new PerformanceObserver((list) => keep(list.getEntries()));
    observer.observe({ type: "longtask", buffered: true });
  } catch {
    observer = null; // Long Task timing unsupported: the tick gaps still measure stalls
  }

  /** @type {any} */ (window).stallMonitor = {
    startedAt,
    /** Stop monitoring and report what was seen since the page started. */
    stop() {
      const now = performance.now();
      tick(now);
      clearInterval(timer);
      if (observer) {
        keep(observer.takeRecords());
        observer.disconnect();
      }
      const counted = longTasks.filter((t) => t.startTime < now);
      const longTaskMaxMs = counted.reduce((m, t) => Math.max(m, t.duration), 0);
      return {
        stallMs: Math.max(maxGapMs, longTaskMaxMs),
        maxGapMs,
        maxGapAt,
        longTaskMaxMs,
        longTaskCount: counted.length,
        longTasks: counted.map((t) => ({ startTime: Math.round(t.startTime), duration: t.duration })),
        longTaskSupported: observer !== null,
        ticks,
        monitoredMs: now - startedAt,
        startedAt,
      };
    },
  };
})();
