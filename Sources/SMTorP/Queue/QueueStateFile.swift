// QueueStateFile.swift: the format of `queue/state/<id>`, the per-recipient
// delivery state of one queued message, rewritten whole (atomically, by
// rename) on every change. One line per recipient, fields separated by TAB:
//
//   smtorp-queue-state 1\n
//   id <queue id>\n
//   rcpt TAB <index> TAB <status> TAB <attempts> TAB <next attempt>
//        TAB <last attempt> TAB <delay warned 0|1> TAB <failure reported 0|1>
//        TAB <status code x.y.z or -> TAB <reply> TAB <reason>\n
//
// The reply and reason are sanitized to one line of printable ASCII (no TAB,
// CR or LF) before they are written, so they cannot add lines or fields.
//
// Untrusted input: the file is ours, but it is read back from disk, where it
// may have been damaged or edited: every field is checked; a file that does
// not parse is reported and the message treated as all pending.
// Standards: RFC 3463 (status codes).

/// Rendering and parsing of state files.
enum QueueStateFile {
    /// The first line of every state file: format and version.
    static let versionLine = "smtorp-queue-state 1"

    /// The file for `states` of message `id`.
    static func render(id: QueueID, states: [RecipientState]) -> [UInt8] {
        var text = versionLine + "\n" + "id " + id.text + "\n"
        for (index, state) in states.enumerated() {
            let fields: [String] = [
                "rcpt", String(index), state.status.name, String(state.attempts),
                String(state.nextAttempt), String(state.lastAttempt),
                state.delayWarned ? "1" : "0", state.failureReported ? "1" : "0",
                state.statusCode?.text ?? "-",
                RecipientState.sanitizedLine(state.reply), RecipientState.sanitizedLine(state.reason),
            ]
            text += fields.joined(separator: "\t") + "\n"
        }
        return Array(text.utf8)
    }

    /// Parses the state file of message `id` with `recipientCount`
    /// recipients; nil (with the reason) when it is damaged or does not fit.
    static func parse(_ bytes: [UInt8], id: QueueID, recipientCount: Int) -> (states: [RecipientState]?, reason: String) {
        guard bytes.last == 0x0A else { return (nil, "state file does not end with a line end") }
        let lines = bytes.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
        guard lines.count == recipientCount + 2 else { return (nil, "state file has the wrong number of lines") }
        guard lines[0] == Array(versionLine.utf8) else { return (nil, "unknown state format") }
        guard lines[1] == Array(("id " + id.text).utf8) else { return (nil, "state file names another id") }
        var states: [RecipientState] = []
        for (offset, line) in lines.dropFirst(2).enumerated() {
            let fields = line.split(separator: 0x09, omittingEmptySubsequences: false).map { Array($0) }
            guard fields.count == 11, fields[0] == Array("rcpt".utf8),
                  let index = QueueMessageFile.decimal(fields[1]), index == Int64(offset),
                  let status = RecipientStatus(name: String(decoding: fields[2], as: UTF8.self)),
                  let attempts = QueueMessageFile.decimal(fields[3]),
                  let next = QueueMessageFile.decimal(fields[4]),
                  let last = QueueMessageFile.decimal(fields[5]),
                  let warned = flag(fields[6]), let reported = flag(fields[7]) else {
                return (nil, "malformed recipient line " + String(offset))
            }
            var code: EnhancedStatusCode? = nil
            if fields[8] != [UInt8(ascii: "-")] {
                guard let parsed = statusCode(fields[8]) else {
                    return (nil, "malformed status code in recipient line " + String(offset))
                }
                code = parsed
            }
            states.append(RecipientState(
                status: status, attempts: Int(attempts), nextAttempt: next, lastAttempt: last,
                statusCode: code, reply: String(decoding: fields[9], as: UTF8.self),
                reason: String(decoding: fields[10], as: UTF8.self),
                delayWarned: warned, failureReported: reported))
        }
        return (states, "")
    }

    static func flag(_ bytes: [UInt8]) -> Bool? {
        bytes == [UInt8(ascii: "1")] ? true : bytes == [UInt8(ascii: "0")] ? false : nil
    }

    /// `class.subject.detail` with class 2, 4 or 5 and at most three digits
    /// per number (RFC 3463 §2).
    static func statusCode(_ bytes: [UInt8]) -> EnhancedStatusCode? {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map { Array($0) }
        guard parts.count == 3, parts.allSatisfy({ $0.count >= 1 && $0.count <= 3 }),
              let c = QueueMessageFile.decimal(parts[0]), c == 2 || c == 4 || c == 5,
              let s = QueueMessageFile.decimal(parts[1]), let d = QueueMessageFile.decimal(parts[2]) else {
            return nil
        }
        return EnhancedStatusCode(UInt8(c), UInt16(s), UInt16(d))
    }
}
