// LoopTimer.swift: a one-shot timer on the event loop (smtorp_timer_*).
import SMTorPCore

/// A re-armable one-shot timer whose callback runs on the loop thread.
public final class LoopTimer {
    var raw: OpaquePointer?
    let callback: () -> Void

    /// Creates an idle timer.
    public init(loop: EventLoop, _ callback: @escaping () -> Void) throws(CoreError) {
        self.callback = callback
        var t: OpaquePointer? = nil
        let result = smtorp_timer_new(loop.raw, { arg in
            guard let arg else { return }
            Unmanaged<LoopTimer>.fromOpaque(arg).takeUnretainedValue().callback()
        }, Unmanaged.passUnretained(self).toOpaque(), &t)
        try CoreError.check(result, context: "creating a timer")
        raw = t
    }

    deinit { smtorp_timer_free(raw) }

    /// (Re)arms the timer.
    public func start(milliseconds: UInt64) { smtorp_timer_start(raw, milliseconds) }

    /// Disarms the timer.
    public func stop() { smtorp_timer_stop(raw) }
}
