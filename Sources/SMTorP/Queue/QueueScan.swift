// QueueScan.swift: what one pass over the queue directory found: the
// messages to schedule, the files that were damaged, and what could not be
// read this time.
//
// Untrusted input: none parsed here.

/// The result of `QueueStore.scan(now:)` or `QueueStore.list()`.
public struct QueueScan: Equatable, Sendable {
    /// A queue file that was incomplete or damaged. A message file is moved
    /// to `queue/corrupt/` by `scan(now:)` and never delivered; a damaged
    /// state file is moved there too and its message treated as all pending.
    public struct Corrupt: Equatable, Sendable {
        /// The file's name in `msg/` (a message) or `<name>.state` (a state
        /// file).
        public var name: String
        /// What is wrong with it.
        public var reason: String
    }

    /// The complete messages, in queue id (arrival) order.
    public var entries: [QueueEntry]
    /// The damaged files found in this pass (each reported once: `scan`
    /// moves them out of the way).
    public var corrupt: [Corrupt]
    /// Files or directories that could not be read this time (I/O errors);
    /// they stay where they are and are tried again on the next scan.
    public var failures: [QueueError]
}
