// ControlBootstrapPhase.swift: how far Tor has come in bootstrapping, from
// GETINFO status/bootstrap-phase or a STATUS_CLIENT BOOTSTRAP event.
//
// Untrusted input: the value text from the control port.
// Spec: Tor control-spec.txt §4.1.10 (BOOTSTRAP: PROGRESS, TAG, SUMMARY,
// WARNING, REASON, ...), §3.9 (status/bootstrap-phase).

/// A bootstrap phase, e.g. `NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"`.
public struct ControlBootstrapPhase: Equatable, Sendable {
    /// NOTICE, or WARN when bootstrapping has trouble.
    public var severity: String
    /// Percent done, 0 to 100.
    public var progress: Int
    /// The phase's tag, e.g. "conn", "done".
    public var tag: String
    /// The phase's description.
    public var summary: String
    /// WARNING=, with WARN severity.
    public var warning: String?
    /// REASON=, with WARN severity.
    public var reason: String?

    /// Whether Tor is fully bootstrapped.
    public var isDone: Bool { progress == 100 }

    /// Creates a value.
    public init(severity: String, progress: Int, tag: String, summary: String,
                warning: String? = nil, reason: String? = nil) {
        self.severity = severity
        self.progress = progress
        self.tag = tag
        self.summary = summary
        self.warning = warning
        self.reason = reason
    }

    /// Parses `Severity BOOTSTRAP PROGRESS=n TAG=t SUMMARY="s" ...`.
    public init(parsing text: String) throws(ControlError) {
        let tokens = try ControlSyntax.tokens(text)
        guard tokens.count >= 2, tokens[1] == "BOOTSTRAP" else {
            throw .protocolViolation("not a bootstrap status")
        }
        let event = ControlStatusEvent(type: "", severity: tokens[0], action: tokens[1],
                                       arguments: try ControlSyntax.keywordArguments(tokens.dropFirst(2)))
        guard let phase = event.bootstrapPhase else {
            throw .protocolViolation("bootstrap status without a PROGRESS of 0 to 100")
        }
        self = phase
    }
}
