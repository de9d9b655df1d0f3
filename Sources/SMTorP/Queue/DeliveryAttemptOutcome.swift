// DeliveryAttemptOutcome.swift: what one delivery attempt achieved for one
// recipient, as the queue records it: delivered, or a failure that is
// temporary (retry later) or permanent (bounce now), with the RFC 3463
// status code and the texts the DSN and the queue listing show.
//
// Untrusted input: the replies are the remote server's (already parsed and
// made printable by the client session); their text is sanitized again
// before it is stored.
// Standards: RFC 5321 §4.2.1 (2yz/4yz/5yz), RFC 3463 (enhanced status codes:
// X.4.x network and routing, X.3.5 misconfiguration, X.7.5 cryptographic
// failure as Postfix uses it for certificate checks), RFC 3464 §2.3.6
// (Diagnostic-Code).

/// The outcome of one delivery attempt for one recipient.
public enum DeliveryAttemptOutcome: Equatable, Sendable {
    /// The server took responsibility for the message (its 2yz reply).
    case delivered(Reply)
    /// The server refused for now (4yz, or a reply the client session made
    /// up for a timeout or a lost connection): retry later.
    case temporaryFailure(Reply)
    /// The server refused for good (5yz): bounce.
    case permanentFailure(Reply)
    /// No SMTP conversation: Tor or the connection failed. Temporary or not
    /// as `ConnectionFailure.isTemporary` says: a fingerprint-label mismatch
    /// is permanent (the address names a different server); a certificate
    /// pin mismatch is temporary (nothing is sent, the message waits for the
    /// user to look, up to its lifetime).
    case connectionFailure(ConnectionFailure)

    /// The outcome the client session reported for a recipient.
    public init(_ outcome: RecipientOutcome) {
        switch outcome {
        case .delivered(let reply): self = .delivered(reply)
        case .temporaryFailure(let reply): self = .temporaryFailure(reply)
        case .permanentFailure(let reply): self = .permanentFailure(reply)
        }
    }

    /// Whether the recipient is done with (delivered).
    public var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }

    /// Whether the failure is permanent (a bounce now, not a retry).
    public var isPermanentFailure: Bool {
        switch self {
        case .delivered, .temporaryFailure: return false
        case .permanentFailure: return true
        case .connectionFailure(let failure): return !failure.isTemporary
        }
    }

    /// The reply as one line for the DSN's Diagnostic-Code, or empty when the
    /// outcome was not an SMTP reply.
    public var diagnostic: String {
        switch self {
        case .delivered(let reply), .temporaryFailure(let reply), .permanentFailure(let reply):
            return Self.line(reply)
        case .connectionFailure:
            return ""
        }
    }

    /// The proof of work the server asked for: a temporary 450 4.7.0 whose
    /// text carries the requirements (docs/spec.md §5.5), or nil.
    public var proofOfWorkRequirements: [PowRequirement]? {
        guard case .temporaryFailure(let reply) = self, reply.code == 450,
              reply.enhanced == EnhancedStatusCode(4, 7, 0) else { return nil }
        return PowExtension.requirements(inReplyText: reply.lines.joined(separator: " "))
    }

    /// Why, in words, as one line.
    public var reason: String {
        switch self {
        case .delivered(let reply), .temporaryFailure(let reply), .permanentFailure(let reply):
            return "the server replied " + Self.line(reply)
        case .connectionFailure(let failure):
            return failure.message
        }
    }

    /// The RFC 3463 status code for the DSN: the reply's own enhanced code
    /// when it has one of the reply's class, else one derived from the
    /// class (X.0.0), or the network/security code of a connection failure.
    public var statusCode: EnhancedStatusCode {
        switch self {
        case .delivered(let reply), .temporaryFailure(let reply), .permanentFailure(let reply):
            let replyClass = UInt8(reply.code / 100)
            if let enhanced = reply.enhanced, enhanced.statusClass == replyClass { return enhanced }
            switch replyClass {
            case 2: return EnhancedStatusCode(2, 0, 0)
            case 5: return EnhancedStatusCode(5, 0, 0)
            default: return EnhancedStatusCode(4, 0, 0)
            }
        case .connectionFailure(let failure):
            return Self.statusCode(failure)
        }
    }

    /// Status codes of connection failures, following Postfix where it has
    /// a case: no answer 4.4.1, no route 4.4.4 (a name that cannot be
    /// found), TLS and certificate failures X.7.5, our own Tor misconfigured
    /// or not running X.3.5 / 4.3.0.
    static func statusCode(_ failure: ConnectionFailure) -> EnhancedStatusCode {
        let c: UInt8 = failure.isTemporary ? 4 : 5
        switch failure {
        case .socks(let error):
            switch error {
            case .onionDescriptorNotFound, .onionDescriptorInvalid, .networkUnreachable, .onionAddressInvalid:
                return EnhancedStatusCode(c, 4, 4)  // unable to route
            case .onionIntroductionFailed, .onionIntroductionTimedOut, .onionRendezvousFailed,
                 .ttlExpired, .hostUnreachable, .connectionRefused:
                return EnhancedStatusCode(c, 4, 1)  // no answer from host
            case .onionClientAuthMissing, .onionClientAuthWrong:
                return EnhancedStatusCode(c, 7, 0)  // security: not authorized
            case .notAllowed, .commandNotSupported, .addressTypeNotSupported, .noAcceptableMethod,
                 .authenticationFailed, .protocolError:
                return EnhancedStatusCode(c, 3, 5)  // system incorrectly configured
            case .generalFailure, .unknownReply:
                return EnhancedStatusCode(c, 4, 0)
            }
        case .certificateMismatch, .pinMismatch, .tls:
            return EnhancedStatusCode(c, 7, 5)
        case .proxyUnreachable:
            return EnhancedStatusCode(c, 3, 0)
        case .timeout:
            return EnhancedStatusCode(c, 4, 1)
        }
    }

    /// `550 5.1.1 text` on one line (the lines of a multi-line reply joined
    /// by spaces).
    static func line(_ reply: Reply) -> String {
        var text = String(reply.code)
        if let enhanced = reply.enhanced { text += " " + enhanced.text }
        for line in reply.lines where !line.isEmpty { text += " " + line }
        return RecipientState.sanitizedLine(text)
    }
}
