// QueueListing.swift: the text of `smtorp queue`, in the manner of
// Postfix's mailq: per message its id, size, arrival time and sender, then
// each recipient with its status and its last reason or next attempt.
//
// Untrusted input: addresses and reasons from the queue. Addresses were
// parsed as RFC 5321 paths (no control characters); reasons quote remote
// servers and were sanitized to printable ASCII when stored, and are
// sanitized again here, so a terminal never receives control bytes.

/// The human-readable listing of the queue.
public enum QueueListing {
    /// The listing of `scan`'s entries (and its damaged files), with times
    /// shown relative to `now` where that helps.
    public static func render(_ scan: QueueScan, now: Int64) -> String {
        var out = ""
        if scan.entries.isEmpty {
            out += "Mail queue is empty\n"
        } else {
            out += "-Queue ID-----------------  --Size-- ----Arrival Time------------- -Sender/Recipient-------\n"
        }
        var total = 0
        for entry in scan.entries {
            total += entry.size
            out += entry.id.text + "  " + padLeft(String(entry.size), 8) + " "
                + UTCDate(unixSeconds: entry.arrival).rfc5322 + "  "
                + (entry.reversePath.map { $0.text } ?? "<>") + "\n"
            for (index, recipient) in entry.recipients.enumerated() {
                let state = entry.states[index]
                out += "        " + padRight(state.status.name, 9) + " " + recipient.text + "\n"
                switch state.status {
                case .pending:
                    if state.nextAttempt > now {
                        out += "                  next attempt in " + QueueScheduler.duration(state.nextAttempt - now) + "\n"
                    }
                case .deferred:
                    out += "                  (" + printable(state.reason) + ")\n"
                    out += "                  " + String(state.attempts) + (state.attempts == 1 ? " attempt" : " attempts")
                        + ", next " + (state.nextAttempt > now
                                       ? "in " + QueueScheduler.duration(state.nextAttempt - now) : "now") + "\n"
                case .failed:
                    out += "                  (" + printable(state.reason) + ")\n"
                case .delivered:
                    break
                }
            }
            out += "\n"
        }
        if !scan.entries.isEmpty {
            out += "-- " + String((total + 1023) / 1024) + " Kbytes in " + String(scan.entries.count)
                + (scan.entries.count == 1 ? " Request.\n" : " Requests.\n")
        }
        for corrupt in scan.corrupt {
            out += "damaged queue file " + printable(corrupt.name) + ": " + printable(corrupt.reason) + "\n"
        }
        for failure in scan.failures {
            out += "cannot read: " + printable(failure.message) + "\n"
        }
        return out
    }

    static func printable(_ text: String) -> String { RecipientState.sanitizedLine(text) }

    static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.utf8.count)) + text
    }

    static func padRight(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.utf8.count))
    }
}
