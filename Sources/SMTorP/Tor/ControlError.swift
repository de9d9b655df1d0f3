// ControlError.swift: every way a conversation with Tor's control port can
// fail, as one typed error with a message an operator can act on.
//
// Untrusted input: the reply texts carried in `rejected` and
// `authenticationFailed` come from the control port; `message` renders them
// with control characters replaced so that they cannot forge log lines.
// Spec: Tor control-spec.txt §3.5 (AUTHENTICATE), §3.24 (AUTHCHALLENGE),
// §4 (reply codes).

/// A failure of the Tor control-port client.
public enum ControlError: Error, Equatable, Sendable {
    /// Tor refused a command: the reply's status code (4xx or 5xx) and text,
    /// e.g. 552 "Unknown Onion Service id". The session stays usable.
    case rejected(code: Int, text: String)
    /// Tor refused AUTHENTICATE or AUTHCHALLENGE (515 "Authentication
    /// failed: ..." typically); Tor closes the connection after this.
    case authenticationFailed(code: Int, text: String)
    /// SAFECOOKIE: the SERVERHASH Tor sent does not prove knowledge of the
    /// cookie read at `cookiePath`. Either the file is not this Tor's cookie
    /// or something other than that Tor answers on the port; smtorp does not
    /// authenticate (it would hand its cookie proof to an impostor).
    case serverHashMismatch(cookiePath: String)
    /// The cookie file does not hold exactly 32 bytes.
    case invalidCookie(path: String, length: Int)
    /// The cookie file could not be read.
    case cookieUnreadable(path: String, reason: String)
    /// Tor offers no authentication method smtorp can use (for example only
    /// HASHEDPASSWORD and no password is configured).
    case noUsableAuthMethod(offered: [String])
    /// What came from the port is not the control protocol, or not the
    /// reply the command calls for.
    case protocolViolation(String)
    /// A line longer than `ControlLimits.lineLength`.
    case lineTooLong(limit: Int)
    /// A reply or event with more lines or octets than the limits allow.
    case replyTooLarge(limit: Int)
    /// A command argument that cannot be sent: it would break the line
    /// syntax (a space, CR or LF) or is not of the required form.
    case invalidArgument(String)
    /// A cryptographic primitive failed (HMAC-SHA256, the random source).
    case cryptoFailure
    /// The TCP connection to the control port could not be made.
    case connectionFailed(String)
    /// The control connection ended.
    case connectionClosed
    /// A command was given before `authenticate` started a connection.
    case notConnected

    /// A one-line English description for logs and error output.
    public var message: String {
        switch self {
        case .rejected(let code, let text):
            return "Tor refused the command: " + String(code) + " " + Self.printable(text)
        case .authenticationFailed(let code, let text):
            return "Tor refused authentication: " + String(code) + " " + Self.printable(text)
        case .serverHashMismatch(let path):
            return "SAFECOOKIE server hash mismatch: the Tor on the control port does not know the cookie in "
                + Self.printable(path) + " (wrong cookie file, or not that Tor on this port); not authenticating"
        case .invalidCookie(let path, let length):
            return "the control cookie " + Self.printable(path) + " has " + String(length)
                + " bytes, not 32"
        case .cookieUnreadable(let path, let reason):
            return "cannot read the control cookie " + Self.printable(path) + ": " + Self.printable(reason)
        case .noUsableAuthMethod(let offered):
            var text = "Tor offers no usable authentication method (offered: "
                + Self.printable(offered.joined(separator: ","))
            if offered.contains("HASHEDPASSWORD") { text += "; configure the control password" }
            return text + ")"
        case .protocolViolation(let what):
            return "control protocol violation: " + Self.printable(what)
        case .lineTooLong(let limit):
            return "a control reply line is longer than " + String(limit) + " octets"
        case .replyTooLarge(let limit):
            return "a control reply exceeds the limit of " + String(limit)
        case .invalidArgument(let what):
            return "invalid control command argument: " + Self.printable(what)
        case .cryptoFailure:
            return "a cryptographic primitive failed"
        case .connectionFailed(let reason):
            return "cannot connect to the Tor control port: " + Self.printable(reason)
        case .connectionClosed:
            return "the Tor control connection closed"
        case .notConnected:
            return "not connected to the Tor control port (call authenticate first)"
        }
    }

    /// `text` with every control character and non-ASCII byte shown as `?`.
    static func printable(_ text: String) -> String {
        var out: [UInt8] = []
        for b in text.utf8 {
            out.append(b >= 0x20 && b < 0x7F ? b : UInt8(ascii: "?"))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
