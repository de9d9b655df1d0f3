// ControlReply.swift: one complete reply (or asynchronous event) of Tor's
// control port: its status code and its lines, each with the data block
// that followed it, if any.
//
// Untrusted input: the texts are from the control port, as framed by
// `ControlReplyReader`; they are interpreted by ControlSession and
// ControlEvent, never executed or logged raw.
// Spec: Tor control-spec.txt §2.3 (Reply = *(MidReplyLine / DataReplyLine)
// EndReplyLine), §2.4 (asynchronous events, code 650).

/// One line of a control reply: the text after `NNN-`, `NNN+` or `NNN `.
public struct ControlReplyLine: Equatable, Sendable {
    /// The text after the status code and separator, without CR/LF.
    public var text: String
    /// For a `NNN+` line, the data block that followed it: dot-unstuffed,
    /// lines joined with LF, without the terminating "." line.
    public var data: String?

    /// Creates a line.
    public init(text: String, data: String? = nil) {
        self.text = text
        self.data = data
    }
}

/// A complete reply or event from the control port.
public struct ControlReply: Equatable, Sendable {
    /// The three-digit status code (the end line's).
    public var code: Int
    /// Every line in order; the last is the end line (`NNN text`).
    public var lines: [ControlReplyLine]

    /// Creates a reply.
    public init(code: Int, lines: [ControlReplyLine]) {
        self.code = code
        self.lines = lines
    }

    /// Whether the command succeeded (2yz).
    public var isSuccess: Bool { code >= 200 && code <= 299 }

    /// Whether this is an asynchronous event (6yz; Tor uses 650).
    public var isEvent: Bool { code >= 600 && code <= 699 }

    /// The end line's text, e.g. "OK" or "Authentication failed: ...".
    public var endText: String { lines.last?.text ?? "" }

    /// The text of the first line (for one-line answers and event keywords).
    public var firstText: String { lines.first?.text ?? "" }
}
