// Configuration.swift: the node's configuration file (docs/configuration.md).
//
// Format: one setting per line, `key = value`; `#` starts a comment; blank
// lines are ignored; repeatable keys (mailbox, domain_alias) may appear many
// times. Unknown keys and bad values are errors that name the line, so a
// typo never silently changes how mail is handled.
//
// Untrusted input: the file is the operator's, but it is parsed strictly and
// every failure is a clear error rather than a crash.

/// How the node reaches Tor.
public enum TorMode: Sendable, Equatable {
    case managed, external, off

    public var name: String {
        switch self {
        case .managed: return "managed"
        case .external: return "external"
        case .off: return "off"
        }
    }
}

/// Severity of a log line, lowest first.
public enum LogLevel: Int, Comparable, Sendable {
    case debug = 0, info = 1, warning = 2, error = 3

    /// Parses "debug", "info", "warning" (or "warn") and "error".
    public init?(name: String) {
        switch name {
        case "debug": self = .debug
        case "info": self = .info
        case "warning", "warn": self = .warning
        case "error": self = .error
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warning: return "warning"
        case .error: return "error"
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// A numeric listening address: IPv4 "127.0.0.1:2525" or IPv6 "[::1]:2525".
public struct ListenAddress: Equatable, Sendable {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses "host:port" / "[v6]:port"; nil when malformed.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        var hostPart: [UInt8]
        var portPart: [UInt8]
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")),
                  close + 1 < bytes.count, bytes[close + 1] == UInt8(ascii: ":") else { return nil }
            hostPart = Array(bytes[1..<close])
            portPart = Array(bytes[(close + 2)...])
        } else {
            guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")) else { return nil }
            hostPart = Array(bytes[..<colon])
            portPart = Array(bytes[(colon + 1)...])
            if hostPart.contains(UInt8(ascii: ":")) { return nil }
        }
        guard !hostPart.isEmpty, let port = parseUnsigned(portPart), port <= 65535 else { return nil }
        self.host = String(decoding: hostPart, as: UTF8.self)
        self.port = UInt16(port)
    }

    /// "host:port", bracketing IPv6 hosts.
    public var text: String {
        (host.utf8.contains(UInt8(ascii: ":")) ? "[" + host + "]" : host) + ":" + String(port)
    }
}

/// A configuration error, naming the line.
public struct ConfigurationError: Error, Equatable, Sendable {
    public let line: Int
    public let message: String
    public var description: String {
        line > 0 ? "line " + String(line) + ": " + message : message
    }
}

/// Everything `smtorp serve` needs, with documented defaults.
public struct Configuration: Equatable, Sendable {
    /// Where keys, Maildirs and state live (mode 0700).
    public var dataDirectory: String = ""
    /// The onion listener (implicit TLS). Tor maps virtual port 25 here.
    public var listen = ListenAddress(host: "127.0.0.1", port: 2525)
    /// Local mailboxes (lower case): the local parts this node accepts.
    public var mailboxes: [String] = []
    /// Extra domains treated as the node's own (tests, local aliases).
    public var domainAliases: [String] = []
    /// RFC 1870 SIZE limit in octets.
    public var maxMessageSize = 10_240_000
    /// Recipients per transaction (RFC 5321 §4.5.3.1.8 requires >= 100).
    public var maxRecipients = 100
    /// Seconds to wait for a command (RFC 5321 §4.5.3.2.7: 5 minutes).
    public var commandTimeoutSeconds = 300
    /// Seconds to wait for the next block of message data.
    public var dataTimeoutSeconds = 300
    /// Log threshold.
    public var logLevel = LogLevel.info
    /// Whether the node publishes its onion service: `managed` (smtorp runs
    /// its own tor, the default), `external` (set by tor_control) or `off`
    /// (loopback only: no onion service, for tests and local use).
    public var torMode = TorMode.managed
    /// An existing tor's control port; when unset smtorp starts its own tor.
    public var torControl: ListenAddress? = nil
    /// An existing tor's SOCKS port (ExtendedErrors recommended); with a
    /// managed tor smtorp picks it itself.
    public var torSocks: ListenAddress? = nil
    /// The tor program smtorp starts when it manages tor.
    public var torBinary = "tor"
    /// A file of extra torrc lines for the managed tor (`%include`), e.g.
    /// the DirAuthority lines of a private test network.
    public var torInclude: String? = nil
    /// The onion service's virtual port (docs/spec.md §3.1).
    public var onionPort: UInt16 = 25
    /// Seconds to wait for tor to bootstrap and publish the onion service.
    public var torTimeoutSeconds = 300
    /// The outbound queue's retry and lifetime settings (Postfix's spirit:
    /// first retry after retry_min, doubling up to retry_max, give up after
    /// queue_lifetime, warn the sender after delay_warning; 0 = no warning).
    public var queue = QueueSettings()
    /// Proof of work: required of senders (pow), base efforts, solver
    /// threads (docs/spec.md §5).
    public var proofOfWork = ProofOfWorkSettings()

    public init() {}

    /// The configuration as file text (what `smtorp init` writes), every
    /// setting spelled out with its meaning.
    public var fileText: String {
        var t = "# smtorp node configuration (docs/configuration.md)\n"
        t += "data_directory = " + dataDirectory + "\n"
        t += "# the onion listener (implicit TLS); Tor maps the onion's port 25 here\n"
        t += "listen = " + listen.text + "\n"
        for m in mailboxes { t += "mailbox = " + m + "\n" }
        if mailboxes.isEmpty { t += "# mailbox = alice\n" }
        for d in domainAliases { t += "domain_alias = " + d + "\n" }
        t += "max_message_size = " + String(maxMessageSize) + "\n"
        t += "max_recipients = " + String(maxRecipients) + "\n"
        t += "command_timeout = " + String(commandTimeoutSeconds) + "\n"
        t += "data_timeout = " + String(dataTimeoutSeconds) + "\n"
        t += "log_level = " + logLevel.name + "\n"
        t += "# tor: managed (smtorp runs its own tor), external (use tor_control) or off\n"
        t += "tor = " + torMode.name + "\n"
        if let torControl { t += "tor_control = " + torControl.text + "\n" } else { t += "# tor_control = 127.0.0.1:9051\n" }
        if let torSocks { t += "tor_socks = " + torSocks.text + "\n" } else { t += "# tor_socks = 127.0.0.1:9050\n" }
        t += "tor_binary = " + torBinary + "\n"
        if let torInclude { t += "tor_include = " + torInclude + "\n" }
        t += "onion_port = " + String(onionPort) + "\n"
        t += "tor_timeout = " + String(torTimeoutSeconds) + "\n"
        t += "# outbound queue (seconds)\n"
        t += "retry_min = " + String(queue.minimalBackoff) + "\n"
        t += "retry_max = " + String(queue.maximalBackoff) + "\n"
        t += "queue_lifetime = " + String(queue.maximalLifetime) + "\n"
        t += "delay_warning = " + String(queue.delayWarningTime) + "\n"
        t += "max_destinations = " + String(queue.maximumConcurrentDestinations) + "\n"
        t += "# proof of work (docs/spec.md §5): required of senders; base effort per algorithm (0 = refused)\n"
        t += "pow = " + (proofOfWork.required ? "on" : "off") + "\n"
        t += "pow_eqh96-5 = " + String(proofOfWork.equihashEffort) + "\n"
        t += "pow_a2id-1m = " + String(proofOfWork.argon2Effort) + "\n"
        t += "pow_hc1 = " + String(proofOfWork.hashcashEffort) + "\n"
        t += "# threads solving for outbound mail (0 = one per CPU)\n"
        t += "pow_threads = " + String(proofOfWork.solverThreads) + "\n"
        return t
    }

    /// Parses the text of a configuration file on top of the defaults.
    public static func parse(_ text: String) throws(ConfigurationError) -> Configuration {
        var config = Configuration()
        var number = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var line = Array(rawLine)
            if let hash = line.firstIndex(of: UInt8(ascii: "#")) { line = Array(line[..<hash]) }
            let trimmed = trim(line)
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: UInt8(ascii: "=")) else {
                throw ConfigurationError(line: number, message: "expected `key = value`")
            }
            let key = String(decoding: trim(Array(trimmed[..<eq])), as: UTF8.self)
            let value = String(decoding: trim(Array(trimmed[(eq + 1)...])), as: UTF8.self)
            try config.set(key: key, value: value, line: number)
        }
        return config
    }

    /// Applies one `key = value` setting (also used for command-line flags).
    public mutating func set(key: String, value: String, line: Int = 0) throws(ConfigurationError) {
        func fail(_ why: String) -> ConfigurationError {
            ConfigurationError(line: line, message: key + ": " + why)
        }
        func number(_ min: Int, _ max: Int) throws(ConfigurationError) -> Int {
            guard let n = parseUnsigned(Array(value.utf8)), n >= UInt64(min), n <= UInt64(max) else {
                throw fail("expected a whole number from " + String(min) + " to " + String(max)
                           + ", got `" + value + "`")
            }
            return Int(n)
        }
        if value.isEmpty { throw fail("missing value") }
        switch key {
        case "data_directory":
            dataDirectory = value
        case "listen":
            guard let address = ListenAddress(parsing: value) else {
                throw fail("expected host:port or [ipv6]:port, got `" + value + "`")
            }
            listen = address
        case "mailbox":
            let name = lowercasedASCII(value)
            guard isValidMailboxName(name) else {
                throw fail("`" + value + "` is not a valid mailbox name (letters, digits, . _ - only, at most 64)")
            }
            if !mailboxes.contains(name) { mailboxes.append(name) }
        case "domain_alias":
            let name = lowercasedASCII(value)
            guard isValidDomainName(name) else { throw fail("`" + value + "` is not a domain name") }
            if !domainAliases.contains(name) { domainAliases.append(name) }
        case "max_message_size": maxMessageSize = try number(1024, 1 << 31)
        case "max_recipients": maxRecipients = try number(100, 100_000)
        case "command_timeout": commandTimeoutSeconds = try number(1, 86_400)
        case "data_timeout": dataTimeoutSeconds = try number(1, 86_400)
        case "tor":
            switch value {
            case "managed": torMode = .managed
            case "off": torMode = .off
            case "external": torMode = .external
            default: throw fail("expected managed, external or off")
            }
        case "tor_control":
            guard let address = ListenAddress(parsing: value) else {
                throw fail("expected host:port of a tor control port, got `" + value + "`")
            }
            torControl = address
            torMode = .external
        case "tor_socks":
            guard let address = ListenAddress(parsing: value) else {
                throw fail("expected host:port of a tor SOCKS port, got `" + value + "`")
            }
            torSocks = address
        case "tor_binary": torBinary = value
        case "tor_include": torInclude = value
        case "onion_port": onionPort = UInt16(try number(1, 65535))
        case "tor_timeout": torTimeoutSeconds = try number(10, 86_400)
        case "retry_min": queue.minimalBackoff = Int64(try number(1, 86_400))
        case "retry_max": queue.maximalBackoff = Int64(try number(1, 864_000))
        case "queue_lifetime": queue.maximalLifetime = Int64(try number(60, 100 * 86_400))
        case "delay_warning": queue.delayWarningTime = Int64(try number(0, 100 * 86_400))
        case "max_destinations": queue.maximumConcurrentDestinations = try number(1, 1000)
        case "pow":
            switch value {
            case "on": proofOfWork.required = true
            case "off": proofOfWork.required = false
            default: throw fail("expected on or off")
            }
        case "pow_eqh96-5": proofOfWork.equihashEffort = UInt32(try number(0, Int(UInt32.max)))
        case "pow_a2id-1m": proofOfWork.argon2Effort = UInt32(try number(0, Int(UInt32.max)))
        case "pow_hc1": proofOfWork.hashcashEffort = UInt32(try number(0, Int(UInt32.max)))
        case "pow_threads": proofOfWork.solverThreads = try number(0, 64)
        case "log_level":
            guard let level = LogLevel(name: value) else {
                throw fail("expected debug, info, warning or error")
            }
            logLevel = level
        default:
            throw ConfigurationError(line: line, message: "unknown setting `" + key + "`")
        }
    }
}

/// Mailbox names become directory names: keep them to a safe alphabet, and
/// never `.` or `..`.
func isValidMailboxName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty, bytes.count <= 64, bytes[0] != UInt8(ascii: ".") else { return false }
    return bytes.allSatisfy { b in
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }
}

func isValidDomainName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty, bytes.count <= 255 else { return false }
    for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
        guard !label.isEmpty, label.count <= 63, label.first != UInt8(ascii: "-"),
              label.last != UInt8(ascii: "-") else { return false }
        for b in label where !((b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z"))
                               || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")) {
            return false
        }
    }
    return true
}

/// ASCII-only lower-casing (no Unicode tables needed, Embedded-friendly).
public func lowercasedASCII(_ text: String) -> String {
    String(decoding: text.utf8.map { b in
        b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b
    }, as: UTF8.self)
}

/// Drops spaces, tabs and CRs at both ends.
public func trim(_ bytes: [UInt8]) -> [UInt8] {
    var start = 0
    var end = bytes.count
    while start < end && (bytes[start] == 32 || bytes[start] == 9 || bytes[start] == 13) { start += 1 }
    while end > start && (bytes[end - 1] == 32 || bytes[end - 1] == 9 || bytes[end - 1] == 13) { end -= 1 }
    return Array(bytes[start..<end])
}

/// Parses a decimal number of at most 18 digits; nil otherwise.
func parseUnsigned(_ bytes: [UInt8]) -> UInt64? {
    guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
    var n: UInt64 = 0
    for b in bytes {
        guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
        n = n * 10 + UInt64(b - UInt8(ascii: "0"))
    }
    return n
}
