// EventLoop.swift: the libevent loop of the C core, owned from Swift.
import SMTorPCore

/// The process's event loop. Everything in Runtime/ runs on its thread.
public final class EventLoop {
    /// The C core's loop.
    public let raw: OpaquePointer

    public init() throws(CoreError) {
        var loop: OpaquePointer? = nil
        try CoreError.check(smtorp_loop_new(&loop), context: "creating the event loop")
        guard let loop else { throw CoreError(SMTORP_ERR_EVENT) }
        raw = loop
    }

    deinit { smtorp_loop_free(raw) }

    /// Runs until stop(); false on an event-loop failure.
    public func run() -> Bool { smtorp_loop_run(raw) == 0 }

    /// Makes run() return.
    public func stop() { smtorp_loop_stop(raw) }
}
