// ControlStatusEvent.swift: the STATUS_GENERAL / STATUS_CLIENT /
// STATUS_SERVER events (bootstrap progress, circuit establishment, clock
// skew, ...).
//
// Untrusted input: the event text from the control port.
// Spec: Tor control-spec.txt §4.1.10:
//   "650" SP StatusType SP StatusSeverity SP StatusAction
//         [SP StatusArguments] CRLF

/// One STATUS_* event.
public struct ControlStatusEvent: Equatable, Sendable {
    /// STATUS_GENERAL, STATUS_CLIENT or STATUS_SERVER.
    public var type: String
    /// NOTICE, WARN or ERR.
    public var severity: String
    /// The action, e.g. BOOTSTRAP, CIRCUIT_ESTABLISHED.
    public var action: String
    /// The `Keyword=Value` arguments, unquoted.
    public var arguments: [String: String]

    /// Creates a value.
    public init(type: String, severity: String, action: String, arguments: [String: String]) {
        self.type = type
        self.severity = severity
        self.action = action
        self.arguments = arguments
    }

    /// Parses the event's text, starting with the status type.
    public init(parsing text: String) throws(ControlError) {
        let tokens = try ControlSyntax.tokens(text)
        guard tokens.count >= 3 else { throw .protocolViolation("status event with fewer than three fields") }
        self.init(type: tokens[0], severity: tokens[1], action: tokens[2],
                  arguments: try ControlSyntax.keywordArguments(tokens.dropFirst(3)))
    }

    /// The bootstrap phase, for a STATUS_CLIENT BOOTSTRAP event.
    public var bootstrapPhase: ControlBootstrapPhase? {
        guard action == "BOOTSTRAP", let progressText = arguments["PROGRESS"],
              let progress = ControlSyntax.decimal(progressText), progress <= 100 else { return nil }
        return ControlBootstrapPhase(severity: severity, progress: progress, tag: arguments["TAG"] ?? "",
                                     summary: arguments["SUMMARY"] ?? "", warning: arguments["WARNING"],
                                     reason: arguments["REASON"])
    }
}
