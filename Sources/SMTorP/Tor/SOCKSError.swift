// SOCKSError.swift: why Tor's SocksPort did not open a stream, as one typed
// error: the CONNECT reply codes of RFC 1928 §6 and Tor's ExtendedErrors
// (proposal 304, tor(1) "SocksPort ... ExtendedErrors"), plus the handshake
// failures the C core reports (smtorp_conn_socks_error in smtorp_core.h).
//
// Untrusted input: the reply byte comes from the proxy; any value maps to a
// case (unknown ones to `unknownReply`), nothing traps.
// Specs: RFC 1928 §6 (REP 0x01-0x08), RFC 1929 §2 (STATUS), Tor proposal 304
// and tor(1) (0xF0-0xF7).

/// A failure of the SOCKS5 handshake with Tor, or Tor's refusal to connect.
public enum SOCKSError: Error, Equatable, Sendable {
    /// 0x01 general SOCKS server failure. Tor's catch-all: among others a
    /// circuit that closed, or an onion service whose local server is down.
    case generalFailure
    /// 0x02 connection not allowed by ruleset (exit or SocksPort policy).
    case notAllowed
    /// 0x03 network unreachable (Tor could not build a route).
    case networkUnreachable
    /// 0x04 host unreachable (on a plain SocksPort also an onion service that
    /// cannot be found).
    case hostUnreachable
    /// 0x05 connection refused (for an onion service: the virtual port is
    /// not mapped, or the service refused the stream).
    case connectionRefused
    /// 0x06 TTL expired (Tor: the stream or circuit attempt timed out).
    case ttlExpired
    /// 0x07 command not supported.
    case commandNotSupported
    /// 0x08 address type not supported.
    case addressTypeNotSupported
    /// 0xF0 onion service descriptor can not be found on the hashring.
    case onionDescriptorNotFound
    /// 0xF1 onion service descriptor can not be parsed or fails signature
    /// validation.
    case onionDescriptorInvalid
    /// 0xF2 all introduction attempts failed (NACK or timeout).
    case onionIntroductionFailed
    /// 0xF3 every rendezvous circuit timed out.
    case onionRendezvousFailed
    /// 0xF4 the descriptor needs client authorization we do not have.
    case onionClientAuthMissing
    /// 0xF5 our client authorization does not decrypt the descriptor
    /// (access revoked).
    case onionClientAuthWrong
    /// 0xF6 the .onion address is invalid (checksum, key or encoding).
    case onionAddressInvalid
    /// 0xF7 all introduction attempts timed out.
    case onionIntroductionTimedOut
    /// A reply code this version does not know (unassigned today).
    case unknownReply(UInt8)
    /// The proxy accepts none of the authentication methods offered
    /// (method reply 0xFF).
    case noAcceptableMethod
    /// The proxy refused the RFC 1929 username/password (status != 0).
    case authenticationFailed
    /// The proxy sent malformed bytes, chose a method that was not offered,
    /// or closed in the middle of the handshake.
    case protocolError

    /// The C core's smtorp_conn_socks_error() values below 0
    /// (SMTORP_SOCKS_NO_ACCEPTABLE_METHOD, _AUTH_FAILED, _PROTOCOL_ERROR).
    static let noAcceptableMethodCode: Int32 = -1
    static let authenticationFailedCode: Int32 = -2
    static let protocolErrorCode: Int32 = -3

    /// Maps the value of smtorp_conn_socks_error(): a CONNECT reply byte
    /// (1...255) or one of the core's negative codes. Anything else (0 or an
    /// unknown negative value: a reply with no error is not an error) maps to
    /// `protocolError`.
    public init(code: Int32) {
        switch code {
        case 0x01: self = .generalFailure
        case 0x02: self = .notAllowed
        case 0x03: self = .networkUnreachable
        case 0x04: self = .hostUnreachable
        case 0x05: self = .connectionRefused
        case 0x06: self = .ttlExpired
        case 0x07: self = .commandNotSupported
        case 0x08: self = .addressTypeNotSupported
        case 0xF0: self = .onionDescriptorNotFound
        case 0xF1: self = .onionDescriptorInvalid
        case 0xF2: self = .onionIntroductionFailed
        case 0xF3: self = .onionRendezvousFailed
        case 0xF4: self = .onionClientAuthMissing
        case 0xF5: self = .onionClientAuthWrong
        case 0xF6: self = .onionAddressInvalid
        case 0xF7: self = .onionIntroductionTimedOut
        case 0x09...0xEF, 0xF8...0xFF: self = .unknownReply(UInt8(code))
        case Self.noAcceptableMethodCode: self = .noAcceptableMethod
        case Self.authenticationFailedCode: self = .authenticationFailed
        default: self = .protocolError
        }
    }

    /// The CONNECT reply byte, or nil for the handshake failures.
    public var replyCode: UInt8? {
        switch self {
        case .generalFailure: return 0x01
        case .notAllowed: return 0x02
        case .networkUnreachable: return 0x03
        case .hostUnreachable: return 0x04
        case .connectionRefused: return 0x05
        case .ttlExpired: return 0x06
        case .commandNotSupported: return 0x07
        case .addressTypeNotSupported: return 0x08
        case .onionDescriptorNotFound: return 0xF0
        case .onionDescriptorInvalid: return 0xF1
        case .onionIntroductionFailed: return 0xF2
        case .onionRendezvousFailed: return 0xF3
        case .onionClientAuthMissing: return 0xF4
        case .onionClientAuthWrong: return 0xF5
        case .onionAddressInvalid: return 0xF6
        case .onionIntroductionTimedOut: return 0xF7
        case .unknownReply(let code): return code
        case .noAcceptableMethod, .authenticationFailed, .protocolError: return nil
        }
    }

    /// Whether trying the same destination again later may succeed, so that
    /// a message should stay queued (true) rather than fail now (false).
    /// The reasons follow tor(1)'s ExtendedErrors texts and proposal 304:
    public var isTemporary: Bool {
        switch self {
        case .onionDescriptorNotFound:
            // Not on the hashring *now*: the service is offline or has not
            // published yet (FACTS: a fresh service gives 0xF0 until every
            // descriptor upload is acknowledged). Services come back.
            return true
        case .onionDescriptorInvalid:
            // Unparsable or badly signed: typically a stale or bad copy on
            // one HSDir, or our clock skewed against the descriptor's
            // validity; the service publishes a fresh one at least hourly.
            return true
        case .onionIntroductionFailed, .onionIntroductionTimedOut:
            // The descriptor was found but the service is no longer at its
            // introduction points (restarted, re-publishing) or they timed
            // out: the state of the network, not of the address.
            return true
        case .onionRendezvousFailed:
            // Every rendezvous circuit timed out: network conditions.
            return true
        case .ttlExpired, .networkUnreachable, .hostUnreachable:
            // Tor's timeouts and "no route" (on a plain SocksPort also the
            // unpublished onion that ExtendedErrors calls 0xF0).
            return true
        case .generalFailure:
            // Tor's catch-all, also "onion up, local server behind it down"
            // (FACTS): a restarting peer.
            return true
        case .connectionRefused:
            // For an onion, the service has no mapping for the port (or
            // refused the stream): like a TCP refusal, which SMTP clients
            // treat as transient (RFC 5321 §4.5.4.1: retry); the peer may be
            // restarting or reconfiguring its node.
            return true
        case .unknownReply:
            // An unassigned code from a newer Tor: a message is never
            // failed for a reason we cannot name; its queue lifetime still
            // bounds the retries.
            return true
        case .onionAddressInvalid:
            // Checksum, key or encoding wrong: the address itself is wrong
            // and will stay so.
            return false
        case .onionClientAuthMissing, .onionClientAuthWrong:
            // The service requires client authorization we lack or that was
            // revoked: only its operator can change that.
            return false
        case .notAllowed:
            // A policy of our own Tor (or the exit's) forbids the stream:
            // the same request meets the same rule.
            return false
        case .commandNotSupported, .addressTypeNotSupported:
            // Our request (CONNECT, ATYP 3) is what the proxy does not
            // support: retrying sends the same request.
            return false
        case .noAcceptableMethod, .authenticationFailed:
            // Our SocksPort is configured against our handshake (no
            // username/password, or refusing it): a configuration error.
            return false
        case .protocolError:
            // What answers on the SocksPort is not a SOCKS5 server (or not
            // a sane one): a configuration error. (A tor that closes the
            // connection because it is shutting down also lands here; an
            // owner that knows its managed tor is restarting may retry.)
            return false
        }
    }

    /// A one-line English description for logs and delivery reports.
    public var summary: String {
        switch self {
        case .generalFailure: return "Tor: general failure (0x01)"
        case .notAllowed: return "Tor: connection not allowed by ruleset (0x02)"
        case .networkUnreachable: return "Tor: network unreachable (0x03)"
        case .hostUnreachable: return "Tor: host unreachable (0x04)"
        case .connectionRefused: return "Tor: connection refused (0x05)"
        case .ttlExpired: return "Tor: TTL expired, the attempt timed out (0x06)"
        case .commandNotSupported: return "Tor: command not supported (0x07)"
        case .addressTypeNotSupported: return "Tor: address type not supported (0x08)"
        case .onionDescriptorNotFound:
            return "onion service descriptor not found: the service is offline or not published yet (0xF0)"
        case .onionDescriptorInvalid: return "onion service descriptor invalid (0xF1)"
        case .onionIntroductionFailed: return "onion service introduction failed (0xF2)"
        case .onionRendezvousFailed: return "onion service rendezvous failed (0xF3)"
        case .onionClientAuthMissing: return "onion service requires client authorization (0xF4)"
        case .onionClientAuthWrong: return "onion service client authorization rejected (0xF5)"
        case .onionAddressInvalid: return "invalid onion address (0xF6)"
        case .onionIntroductionTimedOut: return "onion service introduction timed out (0xF7)"
        case .unknownReply(let code): return "Tor: unknown SOCKS reply " + Self.hex(code)
        case .noAcceptableMethod:
            return "the SOCKS proxy accepts none of the offered authentication methods"
        case .authenticationFailed: return "the SOCKS proxy refused the username/password"
        case .protocolError: return "SOCKS protocol error: malformed reply or the proxy closed mid-handshake"
        }
    }

    /// "0xNN" with two upper-case hex digits.
    static func hex(_ byte: UInt8) -> String {
        let digits: [UInt8] = Array("0123456789ABCDEF".utf8)
        let text: [UInt8] = [UInt8(ascii: "0"), UInt8(ascii: "x"),
                             digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
        return String(decoding: text, as: UTF8.self)
    }
}
