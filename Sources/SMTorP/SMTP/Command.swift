// Command.swift — one SMTP command line parsed into a typed command.
//
// Untrusted input: a command line as sent by the peer (any octets, the CRLF
// already removed). Every octet is checked: control characters and non-ASCII
// outside an address are refused, arguments follow the grammar of their verb.
// RFCs: RFC 5321 §4.1.1 (commands), §4.1.2 (argument syntax, esmtp-param),
// RFC 3030 §2 (BDAT), RFC 1870 / RFC 6152 / RFC 6531 (MAIL parameters),
// RFC 3207 §4 (STARTTLS) and RFC 4954 §4 (AUTH) for the submission listener.

/// Why a command line could not be parsed.
public enum CommandError: Error, Equatable, Sendable {
    /// The verb is not one the server knows.
    case unknownVerb
    /// Non-ASCII octets outside a MAIL/RCPT path.
    case nonASCII
    /// Control characters (NUL, a CR inside the line, ...) in the line.
    case invalidCharacters
    /// The verb needs an argument (EHLO, HELO, VRFY) and has none.
    case missingArgument
    /// The verb takes no argument (DATA, RSET, QUIT) and has one.
    case unexpectedArgument
    /// The arguments do not follow the verb's syntax (e.g. `MAIL TO:`).
    case syntax
    /// The EHLO/HELO argument is not a domain or address literal.
    case invalidDomain
    /// The MAIL/RCPT path is not acceptable.
    case path(PathError)
    /// An ESMTP parameter is malformed (RFC 5321 §4.1.2 esmtp-param).
    case invalidParameter
    /// The BDAT arguments are not `chunk-size [LAST]` (RFC 3030 §2).
    case invalidChunkSize
}

/// An ESMTP parameter of MAIL or RCPT: `KEYWORD[=value]`.
public struct ESMTPParameter: Equatable, Sendable {
    /// The keyword, in capitals (keywords are case-insensitive).
    public var keyword: String
    /// The value as written, or nil when the parameter has none.
    public var value: String?

    /// Creates a parameter.
    public init(keyword: String, value: String?) {
        self.keyword = keyword
        self.value = value
    }
}

/// A parsed SMTP command.
public enum Command: Equatable, Sendable {
    /// `EHLO domain` (or address literal), as written.
    case extendedHello(domain: String)
    /// `HELO domain` (or address literal), as written.
    case hello(domain: String)
    /// `MAIL FROM:<reverse-path> [parameters]`.
    case mail(reversePath: Path, parameters: [ESMTPParameter])
    /// `RCPT TO:<forward-path> [parameters]`.
    case recipient(forwardPath: Path, parameters: [ESMTPParameter])
    /// `DATA`.
    case data
    /// `BDAT chunk-size [LAST]` (RFC 3030 §2).
    case binaryData(size: UInt64, isLast: Bool)
    /// `RSET`.
    case reset
    /// `NOOP [string]`.
    case noop
    /// `QUIT`.
    case quit
    /// `VRFY string`.
    case verify(String)
    /// `HELP [string]`.
    case help(topic: String?)
    /// A verb that is recognised but not implemented (EXPN, STARTTLS, AUTH,
    /// TURN, ETRN); its arguments are not examined.
    case notImplemented(Verb)
    /// `STARTTLS` (RFC 3207 §4), parsed only for the submission listener.
    case startTLS
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4), parsed only for
    /// the submission listener. The mechanism is in capitals; the initial
    /// response is the base64 text as sent (`=` for an empty one).
    case authenticate(mechanism: String, initialResponse: String?)

    /// Parses a command line (without its CRLF).
    public static func parse(_ line: [UInt8], limits: Limits) throws(CommandError) -> Command {
        let (verb, arguments) = try split(line[...])
        return try parse(verb: verb, arguments: arguments, limits: limits)
    }

    /// Splits a command line (without its CRLF) into its verb and its
    /// arguments, with surrounding spaces removed.
    ///
    /// Refuses control characters anywhere in the line, and an unknown verb.
    public static func split(
        _ line: ArraySlice<UInt8>
    ) throws(CommandError) -> (verb: Verb, arguments: ArraySlice<UInt8>) {
        guard !line.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw .invalidCharacters
        }
        let verbEnd = line.firstIndex(of: 0x20) ?? line.endIndex
        guard let entry = VerbTable.entry(named: line[line.startIndex..<verbEnd]) else {
            throw line.contains(where: { $0 >= 0x80 }) ? .nonASCII : .unknownVerb
        }
        return (entry.verb, trimmingSpaces(line[verbEnd...]))
    }

    /// Parses the arguments of `verb`. STARTTLS and AUTH are parsed only with
    /// `submission` (the submission listener); otherwise they are
    /// `.notImplemented`.
    public static func parse(
        verb: Verb, arguments: ArraySlice<UInt8>, limits: Limits, submission: Bool = false
    ) throws(CommandError) -> Command {
        let entry = VerbTable.entry(for: verb)
        guard VerbTable.isImplemented(entry, submission: submission) else {
            return .notImplemented(verb)
        }
        guard entry.flags.contains(.acceptsUTF8Path) || arguments.allSatisfy({ $0 < 0x80 }) else {
            throw .nonASCII
        }
        switch verb {
        case .extendedHello, .hello:
            guard !arguments.isEmpty else {
                throw .missingArgument
            }
            guard let domain = Path.helloDomain(arguments, maxLength: limits.domainLength) else {
                throw .invalidDomain
            }
            return verb == .hello ? .hello(domain: domain) : .extendedHello(domain: domain)
        case .mail:
            let (path, parameters) = try parsePathArgument(
                arguments, prefix: "FROM:", limits: limits, isRecipient: false)
            return .mail(reversePath: path, parameters: parameters)
        case .recipient:
            let (path, parameters) = try parsePathArgument(
                arguments, prefix: "TO:", limits: limits, isRecipient: true)
            return .recipient(forwardPath: path, parameters: parameters)
        case .data, .reset, .quit:
            guard arguments.isEmpty else {
                throw .unexpectedArgument
            }
            switch verb {
            case .data:
                return .data
            case .reset:
                return .reset
            default:
                return .quit
            }
        case .binaryData:
            return try parseChunkArguments(arguments)
        case .noop:
            return .noop
        case .verify:
            guard !arguments.isEmpty else {
                throw .missingArgument
            }
            return .verify(String(decoding: arguments, as: UTF8.self))
        case .help:
            return .help(topic: arguments.isEmpty ? nil : String(decoding: arguments, as: UTF8.self))
        case .startTLS:
            guard arguments.isEmpty else {
                throw .unexpectedArgument
            }
            return .startTLS
        case .authenticate:
            return try parseAuthenticateArguments(arguments)
        case .expand, .turn, .extendedTurn:
            return .notImplemented(verb)
        }
    }

    /// `sasl-mech [SP initial-response]` (RFC 4954 §4): sasl-mech =
    /// 1*20(ALPHA / DIGIT / "-" / "_") (RFC 4422 §3.1, case-insensitive);
    /// initial-response = base64 / "=", examined by the session.
    private static func parseAuthenticateArguments(
        _ arguments: ArraySlice<UInt8>
    ) throws(CommandError) -> Command {
        let tokens = arguments.split(separator: 0x20)
        guard let mechanism = tokens.first else {
            throw .missingArgument
        }
        guard tokens.count <= 2, mechanism.count <= 20,
              mechanism.allSatisfy({ $0.isLetterOrDigit || $0 == 0x2D || $0 == 0x5F }) else {
            throw .syntax
        }
        let upper = mechanism.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
        return .authenticate(
            mechanism: String(decoding: upper, as: UTF8.self),
            initialResponse: tokens.count == 2 ? String(decoding: tokens[1], as: UTF8.self) : nil)
    }

    /// `FROM:<path> [SP params]` or `TO:<path> [SP params]`; a space before
    /// the path is tolerated (RFC 5321 §4.1.1.2 mentions clients that send it).
    private static func parsePathArgument(
        _ arguments: ArraySlice<UInt8>, prefix: String, limits: Limits, isRecipient: Bool
    ) throws(CommandError) -> (Path, [ESMTPParameter]) {
        let bytes = Array(arguments)
        let prefixBytes = Array(prefix.utf8)
        guard bytes.count >= prefixBytes.count,
              bytes.prefix(prefixBytes.count).map({ $0.asciiLowercased })
                == prefixBytes.map({ $0.asciiLowercased }) else {
            throw .syntax
        }
        var start = prefixBytes.count
        while start < bytes.count, bytes[start] == 0x20 {
            start += 1
        }
        let path: Path
        let end: Int
        do throws(PathError) {
            (path, end) = try Path.parse(
                bytes, from: start, limits: limits,
                allowsNull: !isRecipient, allowsPostmaster: isRecipient)
        } catch {
            throw .path(error)
        }
        let rest = bytes[end...]
        guard rest.isEmpty || rest.first == 0x20 else {
            throw .path(.syntax)
        }
        return (path, try parseParameters(rest))
    }

    /// esmtp-param *(SP esmtp-param); esmtp-param = esmtp-keyword
    /// ["=" esmtp-value]; keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
    /// value = 1*(%d33-60 / %d62-126) (RFC 5321 §4.1.2).
    private static func parseParameters(
        _ bytes: ArraySlice<UInt8>
    ) throws(CommandError) -> [ESMTPParameter] {
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            throw .nonASCII
        }
        var parameters: [ESMTPParameter] = []
        for token in bytes.split(separator: 0x20) {
            let equals = token.firstIndex(of: 0x3D) ?? token.endIndex
            let keyword = token[token.startIndex..<equals]
            guard let first = keyword.first, first.isLetterOrDigit,
                  keyword.allSatisfy({ $0.isLetterOrDigit || $0 == 0x2D }) else {
                throw .invalidParameter
            }
            var value: String?
            if equals < token.endIndex {
                let valueBytes = token[(equals + 1)...]
                guard !valueBytes.isEmpty,
                      valueBytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != 0x3D }) else {
                    throw .invalidParameter
                }
                value = String(decoding: valueBytes, as: UTF8.self)
            }
            let upper = keyword.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
            parameters.append(ESMTPParameter(
                keyword: String(decoding: upper, as: UTF8.self), value: value))
        }
        return parameters
    }

    /// `chunk-size [SP "LAST"]`, chunk-size = 1*DIGIT (RFC 3030 §2).
    private static func parseChunkArguments(
        _ arguments: ArraySlice<UInt8>
    ) throws(CommandError) -> Command {
        let tokens = arguments.split(separator: 0x20)
        guard tokens.count == 1 || tokens.count == 2 else {
            throw .invalidChunkSize
        }
        guard let size = decimalValue(tokens[0]) else {
            throw .invalidChunkSize
        }
        var isLast = false
        if tokens.count == 2 {
            let last: [UInt8] = [0x6C, 0x61, 0x73, 0x74]  // "last"
            guard tokens[1].map({ $0.asciiLowercased }) == last else {
                throw .invalidChunkSize
            }
            isLast = true
        }
        return .binaryData(size: size, isLast: isLast)
    }

    /// The value of a string of decimal digits, or nil when it is empty, has
    /// another character, or does not fit in 64 bits.
    static func decimalValue(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty else {
            return nil
        }
        var value: UInt64 = 0
        for digit in digits {
            guard digit.isDigit else {
                return nil
            }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit - 0x30))
            guard !overflow1, !overflow2 else {
                return nil
            }
            value = sum
        }
        return value
    }

    private static func trimmingSpaces(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while slice.first == 0x20 {
            slice = slice.dropFirst()
        }
        while slice.last == 0x20 {
            slice = slice.dropLast()
        }
        return slice
    }
}
