// ControlProtocolInfo.swift: what Tor says about itself in answer to
// PROTOCOLINFO, before authentication: the authentication methods it
// accepts, where its cookie file is, and its version; plus the method the
// session chose.
//
// Untrusted input: the PROTOCOLINFO reply (an unauthenticated answer: the
// cookie path in it is only a hint, and SAFECOOKIE is what makes a wrong
// answer harmless).
// Spec: Tor control-spec.txt §3.21 (PROTOCOLINFO), §3.5 (AUTHENTICATE).

/// An authentication method of the control port.
public enum ControlAuthMethod: Equatable, Sendable {
    /// HMAC challenge-response over the cookie file (preferred: neither
    /// side gives the cookie away, and Tor proves it knows the cookie).
    case safeCookie
    /// The cookie file's 32 bytes sent in hexadecimal.
    case cookie
    /// A password Tor knows the salted hash of.
    case hashedPassword
    /// No authentication configured.
    case null

    /// The method's name in PROTOCOLINFO.
    public var name: String {
        switch self {
        case .safeCookie: return "SAFECOOKIE"
        case .cookie: return "COOKIE"
        case .hashedPassword: return "HASHEDPASSWORD"
        case .null: return "NULL"
        }
    }
}

/// The PROTOCOLINFO answer.
public struct ControlProtocolInfo: Equatable, Sendable {
    /// PROTOCOLINFO's protocol version (1).
    public var protocolVersion: Int
    /// The method names of `AUTH METHODS=`, as Tor wrote them.
    public var authMethods: [String]
    /// `COOKIEFILE=`, unquoted, when Tor has one.
    public var cookieFile: String?
    /// `VERSION Tor=`, e.g. "0.4.9.11".
    public var torVersion: String?

    /// Creates a value.
    public init(protocolVersion: Int, authMethods: [String], cookieFile: String?, torVersion: String?) {
        self.protocolVersion = protocolVersion
        self.authMethods = authMethods
        self.cookieFile = cookieFile
        self.torVersion = torVersion
    }

    /// Parses a successful PROTOCOLINFO reply:
    ///
    ///     250-PROTOCOLINFO 1
    ///     250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/var/lib/tor/control_auth_cookie"
    ///     250-VERSION Tor="0.4.9.11"
    ///     250 OK
    ///
    /// Unknown lines (future InfoLines) are skipped, as §3.21 requires.
    public init(parsing reply: ControlReply) throws(ControlError) {
        var version: Int?
        var methods: [String]?
        var cookieFile: String?
        var torVersion: String?
        for line in reply.lines.dropLast() {
            let tokens = try ControlSyntax.tokens(line.text)
            guard let keyword = tokens.first else { continue }
            switch keyword {
            case "PROTOCOLINFO":
                guard tokens.count >= 2, let v = ControlSyntax.decimal(tokens[1]) else {
                    throw .protocolViolation("PROTOCOLINFO without a version")
                }
                version = v
            case "AUTH":
                let arguments = try ControlSyntax.keywordArguments(tokens.dropFirst())
                guard let list = arguments["METHODS"] else {
                    throw .protocolViolation("PROTOCOLINFO AUTH without METHODS")
                }
                methods = list.utf8.split(separator: UInt8(ascii: ","))
                    .map { ControlSyntax.asciiUppercased(String(decoding: $0, as: UTF8.self)) }
                cookieFile = arguments["COOKIEFILE"]
            case "VERSION":
                torVersion = try ControlSyntax.keywordArguments(tokens.dropFirst())["Tor"]
            default:
                continue
            }
        }
        guard let version, let methods else {
            throw .protocolViolation("PROTOCOLINFO reply without PROTOCOLINFO or AUTH line")
        }
        self.init(protocolVersion: version, authMethods: methods, cookieFile: cookieFile, torVersion: torVersion)
    }
}

/// The outcome of a successful authentication.
public struct ControlAuthentication: Equatable, Sendable {
    /// The method used.
    public var method: ControlAuthMethod
    /// What Tor said in PROTOCOLINFO.
    public var protocolInfo: ControlProtocolInfo

    /// Creates a value.
    public init(method: ControlAuthMethod, protocolInfo: ControlProtocolInfo) {
        self.method = method
        self.protocolInfo = protocolInfo
    }
}
