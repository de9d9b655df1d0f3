// ClientReplyParser.swift — assembles the reply lines an SMTP server sends
// into typed replies, and takes the enhanced status code off their text.
//
// Untrusted input: every reply line the server sends (any octets, the LF
// removed by the adapter). The code must follow the grammar exactly and be
// the same on every line of a reply; lines and replies are bounded in
// length; control characters in the text become spaces, so that text taken
// from a reply can go into a log or a bounce without carrying a line of its
// own. Anything else is a protocol error, which ends the session.
// RFCs: RFC 5321 §4.2 (reply syntax, multi-line replies), §4.5.3.1.5 (reply
// line length), RFC 2034 §4 and RFC 3463 (enhanced status codes).

/// Why a reply line could not be taken.
public enum ClientReplyError: Error, Equatable, Sendable {
    /// The line is longer than `ClientLimits.replyLineLength`, CRLF included.
    case lineTooLong
    /// The line does not start with a reply code (`%x32-35 %x30-35 %x30-39`)
    /// followed by a space, a hyphen or the end of the line.
    case malformedLine
    /// A line of a multi-line reply has a code other than the first line's
    /// (RFC 5321 §4.2.1: every line has the same code).
    case inconsistentCode
    /// The reply has more lines than `ClientLimits.maxReplyLines`.
    case tooManyLines
}

/// Assembles reply lines (`250-first`, ..., `250 last`) into replies.
///
/// The parser keeps the lines of the reply being read; after an error its
/// state is unspecified (the session ends).
public struct ClientReplyParser: Equatable, Sendable {
    private let limits: ClientLimits
    /// The code of the reply being read, once its first line arrived.
    private var code: UInt16?
    /// The text of the lines read so far.
    private var lines: [String] = []

    /// Creates a parser that applies `limits`.
    public init(limits: ClientLimits) {
        self.limits = limits
    }

    /// Whether some lines of a multi-line reply have arrived but not its last.
    public var isInsideReply: Bool {
        code != nil
    }

    /// Takes one reply line without its LF (a CR before the LF may be there
    /// or not) and returns the reply when this was its last line, nil when
    /// more lines follow.
    ///
    /// The reply has no enhanced code; see `withEnhancedCode(_:)`.
    public mutating func take(_ line: [UInt8]) throws(ClientReplyError) -> Reply? {
        var content = line[...]
        if content.last == 0x0D {
            content = content.dropLast()
        }
        guard content.count + 2 <= limits.replyLineLength else {
            throw .lineTooLong
        }
        guard let lineCode = ClientReplyParser.code(content) else {
            throw .malformedLine
        }
        let isLast: Bool
        let text: ArraySlice<UInt8>
        if content.count == 3 {
            isLast = true
            text = []
        } else {
            switch content[content.startIndex + 3] {
            case 0x20:  // "Reply-code SP textstring": the last line
                isLast = true
            case 0x2D:  // "Reply-code - textstring": more lines follow
                isLast = false
            default:
                throw .malformedLine
            }
            text = content.dropFirst(4)
        }
        if let code, code != lineCode {
            throw .inconsistentCode
        }
        guard lines.count < limits.maxReplyLines else {
            throw .tooManyLines
        }
        lines.append(ClientReplyParser.printable(text))
        guard isLast else {
            code = lineCode
            return nil
        }
        let reply = Reply(code: lineCode, enhanced: nil, lines: lines)
        code = nil
        lines = []
        return reply
    }

    /// The reply with its enhanced status code taken off the text and put in
    /// `enhanced`, for a server that announced ENHANCEDSTATUSCODES.
    ///
    /// The code is read from the first line (RFC 2034 §4: `status-code SP
    /// text` on every line of a 2yz, 4yz or 5yz reply) and must be of the
    /// reply's class (RFC 3463 §2); it is then removed from every line that
    /// starts with it. Otherwise the reply is returned unchanged.
    public static func withEnhancedCode(_ reply: Reply) -> Reply {
        guard let first = reply.lines.first,
              let enhanced = enhancedCode(Array(first.utf8)[...])?.code,
              UInt16(enhanced.statusClass) == reply.code / 100 else {
            return reply
        }
        var result = reply
        result.enhanced = enhanced
        result.lines = reply.lines.map { line in
            let bytes = Array(line.utf8)[...]
            guard let parsed = enhancedCode(bytes), parsed.code == enhanced else {
                return line
            }
            return String(decoding: bytes.dropFirst(parsed.length), as: UTF8.self)
        }
        return result
    }

    // MARK: - Grammar

    /// The reply code at the start of `bytes`: `%x32-35 %x30-35 %x30-39`
    /// (RFC 5321 §4.2).
    private static func code(_ bytes: ArraySlice<UInt8>) -> UInt16? {
        guard bytes.count >= 3 else {
            return nil
        }
        let first = bytes[bytes.startIndex]
        let second = bytes[bytes.startIndex + 1]
        let third = bytes[bytes.startIndex + 2]
        guard (0x32...0x35).contains(first), (0x30...0x35).contains(second),
              (0x30...0x39).contains(third) else {
            return nil
        }
        return UInt16(first - 0x30) * 100 + UInt16(second - 0x30) * 10 + UInt16(third - 0x30)
    }

    /// An enhanced status code `class "." 1*3digit "." 1*3digit` at the start
    /// of `bytes`, followed by a space or the end, and the number of octets
    /// to drop to remove it (the space included).
    private static func enhancedCode(
        _ bytes: ArraySlice<UInt8>
    ) -> (code: EnhancedStatusCode, length: Int)? {
        var index = bytes.startIndex
        guard index < bytes.endIndex else {
            return nil
        }
        let statusClass = bytes[index]
        guard statusClass == 0x32 || statusClass == 0x34 || statusClass == 0x35 else {
            return nil
        }
        index += 1
        var numbers: [UInt16] = []
        for _ in 0..<2 {
            guard index < bytes.endIndex, bytes[index] == 0x2E else {
                return nil
            }
            index += 1
            var value: UInt16 = 0
            var digits = 0
            while index < bytes.endIndex, bytes[index].isDigit, digits < 3 {
                value = value * 10 + UInt16(bytes[index] - 0x30)
                digits += 1
                index += 1
            }
            guard digits > 0 else {
                return nil
            }
            numbers.append(value)
        }
        if index < bytes.endIndex {
            guard bytes[index] == 0x20 else {
                return nil
            }
            index += 1
        }
        let code = EnhancedStatusCode(statusClass - 0x30, numbers[0], numbers[1])
        return (code, index - bytes.startIndex)
    }

    /// The text as a String, control characters (CR, NUL, HT, ...) replaced
    /// by spaces and malformed UTF-8 by U+FFFD.
    private static func printable(_ text: ArraySlice<UInt8>) -> String {
        String(decoding: text.map { $0 < 0x20 || $0 == 0x7F ? 0x20 : $0 }, as: UTF8.self)
    }
}
