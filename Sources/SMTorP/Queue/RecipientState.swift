// RecipientState.swift: where one recipient of a queued message stands:
// pending, delivered, deferred or failed, with its attempts, the next
// attempt, the last reason and what the sender was already told.
//
// Untrusted input: the reason and reply texts come from remote servers'
// replies and from Tor; `sanitizedLine` makes them one line of printable
// ASCII before they are stored, listed or put into a DSN field.
// Standards: RFC 3463 (the enhanced status code kept for the DSN).

/// Where one recipient of a queued message stands.
public enum RecipientStatus: Equatable, Sendable {
    /// Not tried yet (or tried and nothing decided: never true after a
    /// recorded attempt).
    case pending
    /// The next hop took responsibility (RFC 5321 §6.1). Final.
    case delivered
    /// A temporary failure; tried again at `nextAttempt`.
    case deferred
    /// A permanent failure, or retries ran out. Final.
    case failed

    /// Whether nothing more will be tried for the recipient.
    public var isFinal: Bool { self == .delivered || self == .failed }

    /// The word used in the state file and the queue listing.
    public var name: String {
        switch self {
        case .pending: return "pending"
        case .delivered: return "delivered"
        case .deferred: return "deferred"
        case .failed: return "failed"
        }
    }

    /// Parses `name`.
    init?(name: String) {
        switch name {
        case "pending": self = .pending
        case "delivered": self = .delivered
        case "deferred": self = .deferred
        case "failed": self = .failed
        default: return nil
        }
    }
}

/// The delivery state of one recipient of a queued message.
public struct RecipientState: Equatable, Sendable {
    /// Where the recipient stands.
    public var status: RecipientStatus
    /// Delivery attempts made so far (connections that reached a decision
    /// for this recipient).
    public var attempts: Int
    /// When to try next (Unix seconds); meaningful while not final.
    public var nextAttempt: Int64
    /// When the last attempt was made (Unix seconds), 0 if never.
    public var lastAttempt: Int64
    /// The RFC 3463 status code of the last outcome, for the DSN.
    public var statusCode: EnhancedStatusCode?
    /// The remote server's reply that decided the last outcome, as one line
    /// (`550 5.1.1 Mailbox unavailable`), or empty when the outcome was not
    /// a reply (a Tor or connection failure). The DSN's Diagnostic-Code.
    public var reply: String
    /// Why, in words, as one line (the reply, or the Tor/connection error).
    public var reason: String
    /// Whether the sender was warned that delivery is delayed.
    public var delayWarned: Bool
    /// Whether the failure of this recipient was put into a DSN that was
    /// produced (so that a crash before the message is removed never
    /// produces a second bounce for it).
    public var failureReported: Bool

    /// Creates a state.
    public init(status: RecipientStatus, attempts: Int = 0, nextAttempt: Int64, lastAttempt: Int64 = 0,
                statusCode: EnhancedStatusCode? = nil, reply: String = "", reason: String = "",
                delayWarned: Bool = false, failureReported: Bool = false) {
        self.status = status
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.lastAttempt = lastAttempt
        self.statusCode = statusCode
        self.reply = RecipientState.sanitizedLine(reply)
        self.reason = RecipientState.sanitizedLine(reason)
        self.delayWarned = delayWarned
        self.failureReported = failureReported
    }

    /// The state of a recipient nothing has happened to yet: pending, due at
    /// `arrival`. A message without a state file has only such recipients.
    public static func pending(arrival: Int64) -> RecipientState {
        RecipientState(status: .pending, nextAttempt: arrival)
    }

    /// The longest reason or reply kept, in octets (a DSN header field must
    /// stay under 998 octets, RFC 5322 §2.1.1).
    public static let maximumTextLength = 512

    /// `text` as one line of printable ASCII: control characters (CR, LF,
    /// TAB, NUL...) become spaces and other octets (UTF-8) `?`, at most
    /// `maximumTextLength` octets, without spaces at either end.
    public static func sanitizedLine(_ text: String) -> String {
        var out: [UInt8] = []
        for byte in text.utf8 {
            if out.count == maximumTextLength { break }
            if byte < 0x20 || byte == 0x7F {
                out.append(0x20)
            } else if byte >= 0x80 {
                // One `?` per UTF-8 sequence, not per octet.
                if byte >= 0xC0 { out.append(UInt8(ascii: "?")) }
            } else {
                out.append(byte)
            }
        }
        var start = 0
        var end = out.count
        while start < end && out[start] == 0x20 { start += 1 }
        while end > start && out[end - 1] == 0x20 { end -= 1 }
        return String(decoding: out[start..<end], as: UTF8.self)
    }
}
