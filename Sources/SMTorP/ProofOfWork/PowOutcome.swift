// PowOutcome.swift: the result of checking a recipient's stamp, and the SMTP
// reply for each (RFC 5321 §4.2, RFC 3463 X.7.0 / X.7.1, docs/spec.md §5).
//
// Temporary (4xx, the client can solve again and retry): missing, an
// unknown version or algorithm, insufficient effort, a stale date, the
// Argon2id rate limit, an unavailable kernel, a store failure. Every 4xx
// that the client can fix carries the current requirements.
//   A stale date is 4xx rather than 5xx: it is the sender's clock or a stamp
//   made long ago (a queued message); a fresh stamp fixes it, and refusing
//   permanently would bounce mail for a clock error.
// Permanent (550 5.7.1): a forged stamp (malformed, another recipient, an
// invalid solution) or a replayed one: solving again with the same inputs
// would not help, and a client that sends these is not behaving.

/// The verdict on a recipient's stamp.
public enum PowOutcome: Equatable, Sendable {
    /// The stamp is valid; its nonce is now spent.
    case accepted
    /// No `POW` parameter.
    case missing(requirements: [PowRequirement])
    /// An unknown stamp version or algorithm, or one this server does not
    /// accept.
    case unsupported(requirements: [PowRequirement])
    /// The stamp's effort is below what its algorithm requires now.
    case insufficient(required: UInt32, requirements: [PowRequirement])
    /// The stamp's date is outside the window around the server's clock.
    case stale(now: StampDate, requirements: [PowRequirement])
    /// This session used up its Argon2id verifications.
    case rateLimited(requirements: [PowRequirement])
    /// The kernel cannot verify this algorithm here.
    case unavailable(requirements: [PowRequirement])
    /// The spent-nonce store could not record the nonce.
    case storeFailure(String)
    /// The stamp is forged.
    case forged(PowForgery)
    /// The stamp's nonce was spent before.
    case replayed

    /// The reply to the RCPT command: nil when accepted (the session goes on
    /// with its other recipient checks).
    public var reply: Reply? {
        switch self {
        case .accepted:
            return nil
        case .missing(let requirements):
            return Self.temporary("POW required", requirements)
        case .unsupported(let requirements):
            return Self.temporary("POW stamp version or algorithm not accepted", requirements)
        case .insufficient(let required, let requirements):
            return Self.temporary("POW effort below " + String(required), requirements)
        case .stale(let now, let requirements):
            return Self.temporary("POW stamp date outside the window around " + now.text + " UTC", requirements)
        case .rateLimited(let requirements):
            return Self.temporary("Too many a2id-1m stamps in this session", requirements)
        case .unavailable(let requirements):
            return Self.temporary("POW algorithm cannot be verified here", requirements)
        case .storeFailure:
            return Reply(451, EnhancedStatusCode(4, 3, 0), "POW stamp cannot be recorded now, try again later")
        case .forged(let forgery):
            return Reply(550, EnhancedStatusCode(5, 7, 1), "POW stamp refused: " + forgery.text)
        case .replayed:
            return Reply(550, EnhancedStatusCode(5, 7, 1), "POW stamp refused: already used")
        }
    }

    /// Whether the reply is a permanent refusal.
    public var isPermanent: Bool { reply?.isPermanentFailure ?? false }

    /// `450 4.7.0 <reason>; POW required: eqh96-5 effort 8, a2id-1m effort 2`
    static func temporary(_ reason: String, _ requirements: [PowRequirement]) -> Reply {
        let list = requirements.map { $0.algorithm.identifier + " effort " + String($0.effort) }
        let text = reason == "POW required" ? reason : reason + "; POW required"
        return Reply(450, EnhancedStatusCode(4, 7, 0), text + ": " + list.joined(separator: ", "))
    }
}
