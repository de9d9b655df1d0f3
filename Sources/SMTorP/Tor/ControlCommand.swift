// ControlCommand.swift: the commands smtorp sends after authentication, and
// their rendering to one control-protocol line. Every argument is checked
// against the character class its position allows, so that no argument can
// end the line early or smuggle a second command (a service ID with a CRLF
// in it, a target with a space).
//
// Untrusted input: none from the control port. Arguments come from smtorp's
// own configuration and key files; they are validated all the same.
// Secret: the ADD_ONION line carries the onion service's private key. It is
// never logged, and errors never quote it.
// Spec: Tor control-spec.txt §3.9 (GETINFO), §3.4 (SETEVENTS), §3.7
// (SIGNAL), §3.23 (TAKEOWNERSHIP), §3.3 (RESETCONF), §3.27 (ADD_ONION),
// §3.28 (DEL_ONION).

/// Identifies a command so that its reply can be matched to it.
public struct ControlCommandID: Hashable, Sendable {
    /// The caller's number for the command.
    public let value: UInt64

    /// Creates an ID.
    public init(_ value: UInt64) { self.value = value }
}

/// A virtual port of an onion service and where Tor forwards it.
public struct ControlOnionPort: Equatable, Sendable {
    /// The port clients connect to on the onion address (25 for SMTorP).
    public var virtualPort: UInt16
    /// Where Tor connects locally, e.g. "127.0.0.1:2525".
    public var target: String

    /// Creates a port mapping.
    public init(virtualPort: UInt16, target: String) {
        self.virtualPort = virtualPort
        self.target = target
    }
}

/// The onion service ADD_ONION creates.
public struct ControlOnionRequest: Equatable, Sendable {
    /// The service key.
    public enum Key: Equatable, Sendable {
        /// An existing key, `ED25519-V3:<base64 of the 64-byte expanded key>`
        /// (`NodeIdentity.torPrivateKeyBlob()`). Secret.
        case existing(String)
        /// A key Tor generates, of this type ("ED25519-V3" or "BEST"): the
        /// reply carries it back. smtorp derives its key itself and never
        /// uses this after a node's first run.
        case new(String)
    }

    /// The key.
    public var key: Key
    /// The port mappings (at least one).
    public var ports: [ControlOnionPort]
    /// ADD_ONION flags, e.g. "Detach", "DiscardPK".
    public var flags: [String]

    /// Creates a request.
    public init(key: Key, ports: [ControlOnionPort], flags: [String] = []) {
        self.key = key
        self.ports = ports
        self.flags = flags
    }
}

/// A command sent after authentication.
public enum ControlCommand: Equatable, Sendable {
    /// GETINFO of these keys (e.g. "version", "status/bootstrap-phase",
    /// "net/listeners/socks"); answered with `ControlResponse.info`.
    case getInfo([String])
    /// ADD_ONION; answered with `ControlResponse.onion`.
    case addOnion(ControlOnionRequest)
    /// DEL_ONION of a service ID (56 base32 characters).
    case delOnion(serviceID: String)
    /// SETEVENTS: replaces the set of events Tor sends (e.g. ["HS_DESC"]).
    case setEvents([String])
    /// SIGNAL, e.g. "NEWNYM", "SHUTDOWN".
    case signal(String)
    /// TAKEOWNERSHIP: Tor exits when this control connection closes.
    case takeOwnership
    /// RESETCONF of these options (e.g. "__OwningControllerProcess").
    case resetConf([String])

    /// The command line without CRLF, or why it cannot be sent.
    public func line() -> Result<String, ControlError> {
        switch self {
        case .getInfo(let keys):
            guard !keys.isEmpty, keys.allSatisfy({ ControlSyntax.isToken($0, ControlSyntax.isInfoKeyByte) }) else {
                return .failure(.invalidArgument("GETINFO needs keys of printable characters without spaces"))
            }
            return .success("GETINFO " + keys.joined(separator: " "))
        case .addOnion(let request):
            return Self.addOnionLine(request)
        case .delOnion(let serviceID):
            guard ControlSyntax.isServiceID(serviceID) else {
                return .failure(.invalidArgument("DEL_ONION needs a 56-character v3 service ID"))
            }
            return .success("DEL_ONION " + serviceID)
        case .setEvents(let names):
            guard names.allSatisfy({ ControlSyntax.isToken($0, ControlSyntax.isKeywordByte) }) else {
                return .failure(.invalidArgument("SETEVENTS needs event names of letters, digits and _"))
            }
            return .success(names.isEmpty ? "SETEVENTS" : "SETEVENTS " + names.joined(separator: " "))
        case .signal(let name):
            guard ControlSyntax.isToken(name, ControlSyntax.isKeywordByte) else {
                return .failure(.invalidArgument("SIGNAL needs a name of letters, digits and _"))
            }
            return .success("SIGNAL " + name)
        case .takeOwnership:
            return .success("TAKEOWNERSHIP")
        case .resetConf(let keys):
            guard !keys.isEmpty, keys.allSatisfy({ ControlSyntax.isToken($0, ControlSyntax.isKeywordByte) }) else {
                return .failure(.invalidArgument("RESETCONF needs option names of letters, digits and _"))
            }
            return .success("RESETCONF " + keys.joined(separator: " "))
        }
    }

    /// Whether the command is ADD_ONION (its line holds a secret key).
    public var carriesSecret: Bool {
        if case .addOnion = self { return true }
        return false
    }

    /// A short name for logs: the verb only, never arguments.
    public var verb: String {
        switch self {
        case .getInfo: return "GETINFO"
        case .addOnion: return "ADD_ONION"
        case .delOnion: return "DEL_ONION"
        case .setEvents: return "SETEVENTS"
        case .signal: return "SIGNAL"
        case .takeOwnership: return "TAKEOWNERSHIP"
        case .resetConf: return "RESETCONF"
        }
    }

    // MARK: - Private

    private static func addOnionLine(_ request: ControlOnionRequest) -> Result<String, ControlError> {
        var line = "ADD_ONION "
        switch request.key {
        case .existing(let blob):
            // TYPE ":" base64; the blob is secret, so the error names only the rule.
            let bytes = Array(blob.utf8)
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                  bytes[..<colon].allSatisfy({ ControlSyntax.isAlphanumeric($0) || $0 == UInt8(ascii: "-") }),
                  colon + 1 < bytes.count,
                  bytes[(colon + 1)...].allSatisfy(isBase64Byte),
                  String(decoding: bytes[..<colon], as: UTF8.self) != "NEW" else {
                return .failure(.invalidArgument("ADD_ONION key is not TYPE:base64"))
            }
            line += blob
        case .new(let type):
            guard ControlSyntax.isToken(type, { ControlSyntax.isAlphanumeric($0) || $0 == UInt8(ascii: "-") }) else {
                return .failure(.invalidArgument("ADD_ONION NEW: key type is not a word"))
            }
            line += "NEW:" + type
        }
        if !request.flags.isEmpty {
            guard request.flags.allSatisfy({ ControlSyntax.isToken($0, ControlSyntax.isAlphanumeric) }) else {
                return .failure(.invalidArgument("ADD_ONION flags must be words"))
            }
            line += " Flags=" + request.flags.joined(separator: ",")
        }
        guard !request.ports.isEmpty else {
            return .failure(.invalidArgument("ADD_ONION needs at least one port"))
        }
        for port in request.ports {
            guard port.virtualPort != 0 else { return .failure(.invalidArgument("ADD_ONION virtual port 0")) }
            guard ControlSyntax.isToken(port.target, isTargetByte) else {
                return .failure(.invalidArgument("ADD_ONION target must be host:port without spaces or commas"))
            }
            line += " Port=" + String(port.virtualPort) + "," + port.target
        }
        return .success(line)
    }

    private static func isBase64Byte(_ b: UInt8) -> Bool {
        ControlSyntax.isAlphanumeric(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: "/") || b == UInt8(ascii: "=")
    }

    /// Characters of `host:port`, `[v6]:port` or `unix:/path`.
    private static func isTargetByte(_ b: UInt8) -> Bool {
        ControlSyntax.isAlphanumeric(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
            || b == UInt8(ascii: "[") || b == UInt8(ascii: "]") || b == UInt8(ascii: "/")
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }
}
