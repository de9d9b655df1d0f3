// ControlReplyReader.swift: frames the control port's lines into complete
// replies and events. Tor may write an asynchronous event (650) at any time,
// also between the lines of a reply to a command, so the reader keeps two
// replies under construction, one for command replies and one for events,
// and hands each on when its end line arrives: an event is never taken for
// the answer to a pending command.
//
// Untrusted input: every line from the control port. Lines that are not
// `NNN-`, `NNN+` or `NNN ` (three digits and a separator), over-long lines,
// replies with too many lines or octets, and a code that changes in the
// middle of a reply are thrown as `ControlError`, never a crash.
// Spec: Tor control-spec.txt §2.3 (reply lines, data blocks ending with a
// "." line, leading-dot unstuffing), §2.4 (events may interleave).

/// Assembles control-port lines into replies and events.
public struct ControlReplyReader: Sendable {
    /// A complete unit handed on by the reader.
    public enum Output: Equatable, Sendable {
        /// The reply to the oldest pending command (any code but 6yz).
        case response(ControlReply)
        /// An asynchronous event (6yz).
        case event(ControlReply)
    }

    /// A reply under construction.
    private struct Partial: Sendable {
        var code: Int = 0
        var lines: [ControlReplyLine] = []
        var lineCount = 0
        var octets = 0
    }

    /// Which reply a data block belongs to, and its lines so far.
    private struct DataBlock: Sendable {
        var isEvent: Bool
        var text: String
        var lines: [String] = []
    }

    private let limits: ControlLimits
    private var response = Partial()
    private var event = Partial()
    private var data: DataBlock?

    /// Creates a reader enforcing `limits`.
    public init(limits: ControlLimits = ControlLimits()) {
        self.limits = limits
    }

    /// Whether no reply, event or data block is partly read.
    public var isIdle: Bool {
        data == nil && response.lines.isEmpty && event.lines.isEmpty
    }

    /// Reads one line (without its LF; a final CR is removed). Returns a
    /// reply or event when this line completes one.
    public mutating func read(_ line: [UInt8]) throws(ControlError) -> Output? {
        // The length limit counts the line end, as the C core's framing does.
        guard line.count + 1 <= limits.lineLength else { throw .lineTooLong(limit: limits.lineLength) }
        var body = line
        if body.last == 0x0D { body.removeLast() }

        if var block = data {
            try account(isEvent: block.isEvent, octets: line.count + 1)
            if body == [UInt8(ascii: ".")] {
                data = nil
                let joined = block.lines.joined(separator: "\n")
                append(ControlReplyLine(text: block.text, data: joined), isEvent: block.isEvent)
                return nil
            }
            if body.first == UInt8(ascii: ".") { body.removeFirst() }  // dot-unstuffing
            block.lines.append(String(decoding: body, as: UTF8.self))
            data = block
            return nil
        }

        guard body.count >= 4,
              let code = Self.code(body[0], body[1], body[2]) else {
            throw .protocolViolation("not a control reply line")
        }
        let separator = body[3]
        let text = String(decoding: body[4...], as: UTF8.self)
        let isEvent = code >= 600 && code <= 699
        let partial = isEvent ? event : response
        if partial.lineCount > 0 && partial.code != code {
            throw .protocolViolation("status code changed within a reply")
        }
        try account(isEvent: isEvent, octets: line.count + 1)
        if isEvent { event.code = code } else { response.code = code }

        switch separator {
        case UInt8(ascii: "-"):
            append(ControlReplyLine(text: text), isEvent: isEvent)
            return nil
        case UInt8(ascii: "+"):
            data = DataBlock(isEvent: isEvent, text: text)
            return nil
        case UInt8(ascii: " "):
            append(ControlReplyLine(text: text), isEvent: isEvent)
            if isEvent {
                let reply = ControlReply(code: code, lines: event.lines)
                event = Partial()
                return .event(reply)
            }
            let reply = ControlReply(code: code, lines: response.lines)
            response = Partial()
            return .response(reply)
        default:
            throw .protocolViolation("unknown separator after a status code")
        }
    }

    // MARK: - Private

    private mutating func append(_ line: ControlReplyLine, isEvent: Bool) {
        if isEvent { event.lines.append(line) } else { response.lines.append(line) }
    }

    /// Counts a line against the limits of the reply it belongs to.
    private mutating func account(isEvent: Bool, octets: Int) throws(ControlError) {
        var partial = isEvent ? event : response
        partial.lineCount += 1
        partial.octets += octets
        guard partial.lineCount <= limits.replyLines else { throw .replyTooLarge(limit: limits.replyLines) }
        guard partial.octets <= limits.replyOctets else { throw .replyTooLarge(limit: limits.replyOctets) }
        if isEvent { event = partial } else { response = partial }
    }

    /// The status code of three ASCII digits, nil otherwise.
    private static func code(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        let zero = UInt8(ascii: "0")
        guard (zero...zero + 9).contains(a), (zero...zero + 9).contains(b), (zero...zero + 9).contains(c) else {
            return nil
        }
        return Int(a - zero) * 100 + Int(b - zero) * 10 + Int(c - zero)
    }
}
