// DeliveryStatusNotification.swift: renders a delivery status notification
// (a bounce, or a delay warning) for the sender of a queued message: a
// complete RFC 5322 message with CRLF line ends, multipart/report with a
// human part, the machine-readable delivery-status part and the original
// message's header section. It is sent with the null reverse path `<>`, so
// it can never cause a DSN itself; storing or sending it is the caller's.
//
// Untrusted input: the original message's header section (copied, with line
// ends made CRLF and over-long lines cut; the MIME boundary is chosen so it
// does not occur in it) and the recipients' reasons, which come from remote
// replies and were sanitized to printable ASCII when stored.
// Standards: RFC 3464 (message/delivery-status), RFC 6522 (multipart/report,
// text/rfc822-headers), RFC 3463 (status codes), RFC 3834 (Auto-Submitted),
// RFC 5322 (message format, Date, Message-ID), RFC 2045/2046 (MIME,
// boundaries), RFC 6533 (global variants for UTF-8 addresses and headers).

/// Rendering of DSNs.
public enum DeliveryStatusNotification {
    /// The Subject of a failure DSN (as Postfix words it).
    public static let failureSubject = "Undelivered Mail Returned to Sender"
    /// The Subject of a delay warning.
    public static let delaySubject = "Delayed Mail (still being retried)"
    /// The most octets of the original header section included.
    public static let maximumHeaderSection = 64 * 1024
    /// The longest line copied from the original header section
    /// (RFC 5322 §2.1.1: 998 octets before the CRLF).
    static let maximumLineLength = 998

    /// The DSN for `request` about `entry`, from `MAILER-DAEMON@<host>`.
    ///
    /// - Parameters:
    ///   - request: what to report (from `QueueScheduler.notifications`).
    ///   - entry: the queued message, with its recipients' states.
    ///   - originalMessage: the message text (only its header section is
    ///     used; empty when it cannot be read).
    ///   - reportingHost: our onion host name (`<56 characters>.onion`).
    ///   - now: the time of the DSN, Unix seconds.
    public static func render(_ request: NotificationRequest, entry: QueueEntry, originalMessage: [UInt8],
                              reportingHost: String, now: Int64) -> [UInt8] {
        let isFailure = request.kind == .failure
        let indices = request.recipientIndices.filter { entry.states.indices.contains($0) }
        let headers = headerSection(of: originalMessage)
        let globalAddresses = !request.sender.isASCII || indices.contains { !entry.recipients[$0].isASCII }
        let globalHeaders = headers.contains { $0 >= 0x80 }
        // The boundary must occur in no part (RFC 2046 §5.1.1): not in the
        // copied header section, nor in the reasons, which quote remote
        // servers. The identifier keeps it unique and within 70 characters.
        var quoted = headers
        for index in indices {
            quoted += Array(entry.states[index].reason.utf8) + [0x0A] + Array(entry.states[index].reply.utf8) + [0x0A]
        }
        let boundary = chooseBoundary("=_" + request.identifier, avoiding: quoted)
        let statusType = globalAddresses ? "global-delivery-status" : "delivery-status"
        let eightBit = globalAddresses || globalHeaders

        var out = ""
        func line(_ text: String) { out += text + "\r\n" }
        // The top-level header.
        line("From: Mail Delivery System <MAILER-DAEMON@" + reportingHost + ">")
        line("To: <" + request.sender.text + ">")
        line("Subject: " + (isFailure ? failureSubject : delaySubject))
        line("Date: " + UTCDate(unixSeconds: now).rfc5322)
        line("Message-ID: <" + request.identifier + "@" + reportingHost + ">")
        line("Auto-Submitted: auto-replied")  // RFC 3834 §5
        line("MIME-Version: 1.0")
        line("Content-Type: multipart/report; report-type=" + statusType + ";")
        line("\tboundary=\"" + boundary + "\"")
        line("Content-Transfer-Encoding: " + (eightBit ? "8bit" : "7bit"))
        line("")
        line("This is a MIME-encapsulated message.")
        line("")

        // 1. For people.
        line("--" + boundary)
        line("Content-Description: Notification")
        line("Content-Type: text/plain; charset=" + (globalAddresses ? "utf-8" : "us-ascii"))
        line("")
        line("This is the mail system at " + reportingHost + ".")
        line("")
        if isFailure {
            line("Your message could not be delivered to one or more recipients:")
            line("it was refused, or could not be delivered for too long.")
            line("The reasons are given below, and the header of your message is attached.")
        } else {
            line("####################################################################")
            line("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #")
            line("####################################################################")
            line("")
            line("Your message, queued " + UTCDate(unixSeconds: entry.arrival).rfc5322 + ",")
            line("could not be delivered yet to the recipients below.")
            line("The mail system will keep trying until " + UTCDate(unixSeconds: request.retryUntil).rfc5322 + ".")
        }
        line("")
        for index in indices {
            line("<" + entry.recipients[index].text + ">: " + reasonText(entry.states[index]))
        }
        line("")

        // 2. For programs (RFC 3464 §2).
        line("--" + boundary)
        line("Content-Description: Delivery report")
        line("Content-Type: message/" + statusType)
        if globalAddresses { line("Content-Transfer-Encoding: 8bit") }
        line("")
        line("Reporting-MTA: dns; " + reportingHost)
        line("X-SMTorP-Queue-ID: " + entry.id.text)
        line("Arrival-Date: " + UTCDate(unixSeconds: entry.arrival).rfc5322)
        for index in indices {
            let state = entry.states[index]
            let recipient = entry.recipients[index]
            line("")
            line("Final-Recipient: " + (recipient.isASCII ? "rfc822; " : "utf-8; ") + recipient.text)
            line("Action: " + (isFailure ? "failed" : "delayed"))
            line("Status: " + status(of: state, failed: isFailure).text)
            if !state.reply.isEmpty {
                line("Remote-MTA: dns; " + remoteHost(of: recipient))
                line("Diagnostic-Code: smtp; " + RecipientState.sanitizedLine(state.reply))
            }
            if state.lastAttempt > 0 {
                line("Last-Attempt-Date: " + UTCDate(unixSeconds: state.lastAttempt).rfc5322)
            }
            if !isFailure {
                line("Will-Retry-Until: " + UTCDate(unixSeconds: request.retryUntil).rfc5322)
            }
        }
        line("")

        // 3. The original header section (RFC 6522 §4, RFC 6533 §6.4).
        line("--" + boundary)
        line("Content-Description: " + (isFailure ? "Undelivered" : "Delayed") + " Message Headers")
        line("Content-Type: " + (globalHeaders ? "message/global-headers" : "text/rfc822-headers"))
        if globalHeaders { line("Content-Transfer-Encoding: 8bit") }
        line("")
        var bytes = Array(out.utf8)
        bytes += headers
        bytes += Array(("\r\n--" + boundary + "--\r\n").utf8)
        return bytes
    }

    /// The RFC 3463 status for a recipient: its recorded code when it is of
    /// the right class; else X.4.7 for a delay with no attempt yet (RFC 3463
    /// prefers the actual problem when there is one) and 5.0.0 for a failure.
    static func status(of state: RecipientState, failed: Bool) -> EnhancedStatusCode {
        let wanted: UInt8 = failed ? 5 : 4
        if let code = state.statusCode, code.statusClass == wanted { return code }
        return failed ? EnhancedStatusCode(5, 0, 0) : EnhancedStatusCode(4, 4, 7)
    }

    static func reasonText(_ state: RecipientState) -> String {
        if !state.reason.isEmpty { return RecipientState.sanitizedLine(state.reason) }
        return state.attempts == 0 ? "not tried yet (waiting for a connection)" : "no reason recorded"
    }

    /// The onion host of a recipient (without a fingerprint label).
    static func remoteHost(of recipient: Mailbox) -> String {
        let labels = recipient.domain.utf8.split(separator: UInt8(ascii: "."))
        guard labels.count >= 2 else { return RecipientState.sanitizedLine(recipient.domain) }
        return RecipientState.sanitizedLine(String(decoding: labels[labels.count - 2], as: UTF8.self) + ".onion")
    }

    /// The header section of `message` (up to its first empty line), with
    /// CRLF line ends, lines cut at 998 octets, at most
    /// `maximumHeaderSection` octets (whole lines), ending in CRLF.
    static func headerSection(of message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var line: [UInt8] = []
        var index = 0
        func flushLine() -> Bool {
            if line.count > maximumLineLength {
                var cut = maximumLineLength
                while cut > 0 && line[cut] & 0xC0 == 0x80 { cut -= 1 }  // not inside a UTF-8 sequence
                line.removeSubrange(cut...)
            }
            guard out.count + line.count + 2 <= maximumHeaderSection else { return false }
            out += line
            out += [0x0D, 0x0A]
            line = []
            return true
        }
        while index < message.count {
            let byte = message[index]
            index += 1
            if byte == 0x0D || byte == 0x0A {
                if byte == 0x0D && index < message.count && message[index] == 0x0A { index += 1 }
                if line.isEmpty { return out }  // the empty line: end of the header
                if !flushLine() { return out }
            } else {
                line.append(byte)
            }
        }
        if !line.isEmpty { _ = flushLine() }
        return out
    }

    /// `base`, made longer until it occurs nowhere in `content` (RFC 2046
    /// §5.1.1: the boundary must not appear in the encapsulated parts).
    static func chooseBoundary(_ base: String, avoiding content: [UInt8]) -> String {
        var boundary = base
        var counter = 0
        while contains(content, Array(boundary.utf8)) && counter < 1000 {
            counter += 1
            boundary = base + "=" + String(counter)
        }
        return boundary
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count)
        where haystack[start] == needle[0] && Array(haystack[start..<(start + needle.count)]) == needle {
            return true
        }
        return false
    }
}
