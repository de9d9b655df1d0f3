// CoreFraming.swift — the C core's input framing, simulated for the
// in-memory session tests (ServerSessionTests, SubmissionSessionTests,
// ClientSessionTests): bytes become lines of at most the current maximum
// (an over-long line is reported once and discarded through its LF) or
// byte chunks, as the session's `.expectLines` / `.expectBytes` effects
// ask. Mode changes apply to bytes already buffered, as in conn.c.

@testable import SMTorP

struct CoreFraming {
    enum Mode: Equatable {
        case lines(Int)
        case bytes(UInt64)
    }

    var mode: Mode
    var buffer: [UInt8] = []
    var discarding = false

    init(maxLine: Int) {
        mode = .lines(maxLine)
    }

    /// Drops what is buffered (STARTTLS: pre-TLS input is not framed).
    mutating func discardBuffered() {
        buffer.removeAll()
        discarding = false
    }

    /// The next input the core delivers from the buffered bytes, or nil
    /// when it needs more bytes (or a byte count was used up).
    mutating func next() -> ServerInput? {
        while !buffer.isEmpty {
            switch mode {
            case .bytes(let count):
                guard count > 0 else {
                    return nil
                }
                let take = Int(min(count, UInt64(buffer.count)))
                let piece = Array(buffer.prefix(take))
                buffer.removeFirst(take)
                mode = .bytes(count - UInt64(take))
                return .chunk(piece, remaining: count - UInt64(take))
            case .lines(let maxLength):
                if discarding {
                    guard let lf = buffer.firstIndex(of: 0x0A) else {
                        buffer.removeAll()
                        return nil
                    }
                    buffer.removeFirst(lf + 1)
                    discarding = false
                    continue
                }
                guard let lf = buffer.firstIndex(of: 0x0A) else {
                    if buffer.count >= maxLength {
                        buffer.removeAll()
                        discarding = true
                        return .lineTooLong
                    }
                    return nil
                }
                let line = Array(buffer[..<lf])
                buffer.removeFirst(lf + 1)
                return lf + 1 > maxLength ? .lineTooLong : .line(line)
            }
        }
        return nil
    }
}
