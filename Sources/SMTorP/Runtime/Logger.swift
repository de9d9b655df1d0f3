// Logger.swift: log lines to standard error, with levels.
//
// Format: `2026-11-29T13:05:09Z info: text`. Times are UTC. Nothing secret
// (keys, message bodies, passwords) is ever passed here.
import SMTorPCore

/// Writes leveled log lines to standard error.
public struct Logger: Sendable {
    /// Lines below this level are dropped.
    public var threshold: LogLevel

    public init(threshold: LogLevel = .info) { self.threshold = threshold }

    /// Writes one line when `level` is at or above the threshold.
    public func log(_ level: LogLevel, _ message: String) {
        guard level >= threshold else { return }
        let d = UTCDate(unixSeconds: smtorp_clock_unix_seconds())
        let stamp = String(d.year) + "-" + UTCDate.two(d.month) + "-" + UTCDate.two(d.day) + "T"
            + UTCDate.two(d.hour) + ":" + UTCDate.two(d.minute) + ":" + UTCDate.two(d.second) + "Z"
        let line = Array((stamp + " " + level.name + ": " + message + "\n").utf8)
        smtorp_write_stderr(line, line.count)
    }

    public func debug(_ m: String) { log(.debug, m) }
    public func info(_ m: String) { log(.info, m) }
    public func warning(_ m: String) { log(.warning, m) }
    public func error(_ m: String) { log(.error, m) }
}
