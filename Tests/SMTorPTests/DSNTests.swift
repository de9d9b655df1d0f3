// DSNTests.swift: delivery status notifications parsed back structurally:
// the top-level header, the multipart/report boundary and its three parts,
// the RFC 3464 fields per message and per recipient, the status codes of
// each kind of failure, delay warnings, and a boundary that an attacker
// tries to plant in the original header.
import Foundation
import XCTest
@testable import SMTorP

/// A MIME entity: header fields (unfolded, names lower-cased) and body.
struct ParsedEntity {
    var fields: [(name: String, value: String)]
    var body: String

    func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }

    init(_ text: String) {
        let split = text.range(of: "\r\n\r\n")
        let head = split.map { String(text[..<$0.lowerBound]) } ?? text
        body = split.map { String(text[$0.upperBound...]) } ?? ""
        fields = []
        for line in head.components(separatedBy: "\r\n") where !line.isEmpty {
            if line.first == " " || line.first == "\t", !fields.isEmpty {
                fields[fields.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((line[..<colon].lowercased(),
                               line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
    }
}

final class DSNTests: XCTestCase {
    let t0: Int64 = 1_790_000_000
    let host = sampleOnion(9)
    let original = Array("From: Alice <alice@x.onion>\r\nTo: bob@y.onion\r\nSubject: lunch?\r\n\r\nsecret body\r\n".utf8)

    func makeEntry(_ recipients: [Mailbox], states: [RecipientState]) -> QueueEntry {
        QueueEntry(id: QueueID(unixSeconds: t0, sequence: 7, random: [9, 8, 7, 6, 5, 4, 3, 2]), arrival: t0,
                   reversePath: sampleMailbox("alice", 1), recipients: recipients, size: original.count, states: states)
    }

    /// Renders, checks the invariants every DSN has, and returns the parsed
    /// top level and its three parts.
    func renderAndParse(_ request: NotificationRequest, _ entry: QueueEntry, original: [UInt8]? = nil,
                        file: StaticString = #filePath, line: UInt = #line) throws -> (ParsedEntity, [ParsedEntity]) {
        let bytes = DeliveryStatusNotification.render(request, entry: entry, originalMessage: original ?? self.original,
                                                      reportingHost: host, now: t0 + 3600)
        // CRLF only, no line over 998 octets.
        for (index, byte) in bytes.enumerated() {
            if byte == 0x0A { XCTAssertEqual(index > 0 ? bytes[index - 1] : 0, 0x0D, "bare LF", file: file, line: line) }
            if byte == 0x0D { XCTAssertEqual(index + 1 < bytes.count ? bytes[index + 1] : 0, 0x0A, "bare CR",
                                             file: file, line: line) }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        for textLine in text.components(separatedBy: "\r\n") {
            XCTAssertLessThanOrEqual(textLine.utf8.count, 998, file: file, line: line)
        }
        let top = ParsedEntity(text)
        let contentType = try XCTUnwrap(top.field("content-type"), file: file, line: line)
        XCTAssertTrue(contentType.hasPrefix("multipart/report; report-type="), contentType, file: file, line: line)
        let boundaryStart = try XCTUnwrap(contentType.range(of: "boundary=\""), file: file, line: line)
        let boundary = String(contentType[boundaryStart.upperBound...].prefix { $0 != "\"" })
        XCTAssertFalse(boundary.isEmpty, file: file, line: line)
        XCTAssertLessThanOrEqual(boundary.count, 70, "RFC 2046 §5.1.1", file: file, line: line)
        let pieces = ("\r\n" + top.body).components(separatedBy: "\r\n--" + boundary)
        XCTAssertEqual(pieces.count, 5, "preamble, three parts, the close", file: file, line: line)
        XCTAssertEqual(pieces.last, "--\r\n", "the closing delimiter ends the message", file: file, line: line)
        let parts = pieces.dropFirst().dropLast().map { piece -> ParsedEntity in
            XCTAssertTrue(piece.hasPrefix("\r\n"), file: file, line: line)
            return ParsedEntity(String(piece.dropFirst()))  // "\r\n" is one Character
        }
        return (top, parts)
    }

    /// The per-message group and the per-recipient groups of a
    /// delivery-status body.
    func statusGroups(_ part: ParsedEntity) -> [ParsedEntity] {
        part.body.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.map { ParsedEntity($0 + "\r\n\r\n") }
    }

    func testFailureNotification() throws {
        let reply = Reply(550, EnhancedStatusCode(5, 1, 1), "Mailbox unavailable")
        var entry = makeEntry([sampleMailbox("bob", 2), sampleMailbox("carol", 3), sampleMailbox("dave", 4)],
                              states: Array(repeating: .pending(arrival: t0), count: 3))
        let scheduler = QueueScheduler()
        scheduler.record(.permanentFailure(reply), recipient: 0, in: &entry, now: t0 + 60, random: 0.5)
        scheduler.record(.connectionFailure(.socks(.onionAddressInvalid)), recipient: 1, in: &entry, now: t0 + 70,
                         random: 0.5)
        scheduler.record(.delivered(.ok), recipient: 2, in: &entry, now: t0 + 60, random: 0.5)
        let request = try XCTUnwrap(scheduler.notifications(for: entry, now: t0 + 70).first)
        let (top, parts) = try renderAndParse(request, entry)

        XCTAssertEqual(top.field("from"), "Mail Delivery System <MAILER-DAEMON@" + host + ">")
        XCTAssertEqual(top.field("to"), "<alice@" + sampleOnion(1) + ">")
        XCTAssertEqual(top.field("subject"), "Undelivered Mail Returned to Sender")
        XCTAssertEqual(top.field("date"), UTCDate(unixSeconds: t0 + 3600).rfc5322)
        XCTAssertEqual(top.field("message-id"), "<" + entry.id.text + ".failed.0@" + host + ">")
        XCTAssertEqual(top.field("auto-submitted"), "auto-replied")
        XCTAssertEqual(top.field("mime-version"), "1.0")
        XCTAssertTrue(top.field("content-type")!.contains("report-type=delivery-status;"))

        XCTAssertEqual(parts.map { $0.field("content-description") },
                       ["Notification", "Delivery report", "Undelivered Message Headers"])
        XCTAssertEqual(parts.map { $0.field("content-type") },
                       ["text/plain; charset=us-ascii", "message/delivery-status", "text/rfc822-headers"])
        let human = parts[0].body
        XCTAssertTrue(human.contains("<bob@" + sampleOnion(2) + ">: the server replied 550 5.1.1 Mailbox unavailable"),
                      human)
        XCTAssertTrue(human.contains("<carol@" + sampleOnion(3) + ">: tor could not reach the destination: invalid onion"),
                      human)
        XCTAssertFalse(human.contains("dave"), "delivered recipients are not reported")

        let groups = statusGroups(parts[1])
        XCTAssertEqual(groups.count, 3, "per-message fields and two recipients")
        XCTAssertEqual(groups[0].field("reporting-mta"), "dns; " + host)
        XCTAssertEqual(groups[0].field("arrival-date"), UTCDate(unixSeconds: t0).rfc5322)
        XCTAssertEqual(groups[1].field("final-recipient"), "rfc822; bob@" + sampleOnion(2))
        XCTAssertEqual(groups[1].field("action"), "failed")
        XCTAssertEqual(groups[1].field("status"), "5.1.1")
        XCTAssertEqual(groups[1].field("remote-mta"), "dns; " + sampleOnion(2))
        XCTAssertEqual(groups[1].field("diagnostic-code"), "smtp; 550 5.1.1 Mailbox unavailable")
        XCTAssertEqual(groups[1].field("last-attempt-date"), UTCDate(unixSeconds: t0 + 60).rfc5322)
        XCTAssertNil(groups[1].field("will-retry-until"))
        XCTAssertEqual(groups[2].field("final-recipient"), "rfc822; carol@" + sampleOnion(3))
        XCTAssertEqual(groups[2].field("status"), "5.4.4")
        XCTAssertNil(groups[2].field("diagnostic-code"), "no SMTP reply, no Diagnostic-Code")

        XCTAssertEqual(parts[2].body, "From: Alice <alice@x.onion>\r\nTo: bob@y.onion\r\nSubject: lunch?\r\n")
        XCTAssertFalse(String(decoding: DeliveryStatusNotification.render(
            request, entry: entry, originalMessage: original, reportingHost: host, now: t0), as: UTF8.self)
            .contains("secret body"), "the header only, never the text")
    }

    func testStatusCodesPerCase() throws {
        let scheduler = QueueScheduler()
        let cases: [(DeliveryAttemptOutcome, Int64, String, String?)] = [
            (.permanentFailure(Reply(552, EnhancedStatusCode(5, 3, 4), "too big")), 10, "5.3.4", "smtp; 552 5.3.4 too big"),
            (.permanentFailure(Reply(code: 554, enhanced: nil, lines: ["no"])), 10, "5.0.0", "smtp; 554 no"),
            (.connectionFailure(.socks(.onionAddressInvalid)), 10, "5.4.4", nil),
            (.connectionFailure(.certificateMismatch(expectedLabel: "aaaa", presented: "bbbb")), 10, "5.7.5", nil),
            (.temporaryFailure(Reply(451, EnhancedStatusCode(4, 3, 0), "later")), 5 * 86_400, "5.4.7",
             "smtp; 451 4.3.0 later"),
            (.connectionFailure(.socks(.onionDescriptorNotFound)), 5 * 86_400, "5.4.7", nil),
        ]
        for (outcome, at, status, diagnostic) in cases {
            var entry = makeEntry([sampleMailbox("bob", 2)], states: [.pending(arrival: t0)])
            scheduler.record(outcome, recipient: 0, in: &entry, now: t0 + at, random: 0.5)
            let request = try XCTUnwrap(scheduler.notifications(for: entry, now: t0 + at).first, "\(outcome)")
            XCTAssertEqual(request.kind, .failure)
            let (_, parts) = try renderAndParse(request, entry)
            let recipient = statusGroups(parts[1])[1]
            XCTAssertEqual(recipient.field("status"), status, "\(outcome)")
            XCTAssertEqual(recipient.field("diagnostic-code"), diagnostic, "\(outcome)")
            if status == "5.4.7" { XCTAssertTrue(parts[0].body.contains("expired after 5 days: "), parts[0].body) }
        }
    }

    func testDelayWarning() throws {
        let scheduler = QueueScheduler()
        var entry = makeEntry([sampleMailbox("bob", 2), sampleMailbox("carol", 3)],
                              states: [.pending(arrival: t0), .pending(arrival: t0)])
        scheduler.record(.connectionFailure(.socks(.onionIntroductionFailed)), recipient: 0, in: &entry, now: t0 + 100,
                         random: 0.5)
        let request = try XCTUnwrap(scheduler.notifications(for: entry, now: t0 + 4 * 3600).first)
        XCTAssertEqual(request.kind, .delay)
        let (top, parts) = try renderAndParse(request, entry)
        XCTAssertEqual(top.field("subject"), "Delayed Mail (still being retried)")
        XCTAssertEqual(top.field("message-id"), "<" + entry.id.text + ".delayed.0@" + host + ">")
        XCTAssertTrue(parts[0].body.contains("THIS IS A WARNING ONLY"))
        let groups = statusGroups(parts[1])
        XCTAssertEqual(groups.count, 3)
        XCTAssertEqual(groups[1].field("action"), "delayed")
        XCTAssertEqual(groups[1].field("status"), "4.4.1", "the actual problem")
        XCTAssertEqual(groups[1].field("will-retry-until"), UTCDate(unixSeconds: t0 + 5 * 86_400).rfc5322)
        XCTAssertEqual(groups[1].field("last-attempt-date"), UTCDate(unixSeconds: t0 + 100).rfc5322)
        XCTAssertEqual(groups[2].field("status"), "4.4.7", "never tried: delivery time")
        XCTAssertNil(groups[2].field("last-attempt-date"))
        XCTAssertEqual(parts[2].field("content-description"), "Delayed Message Headers")
    }

    func testBoundaryNeverOccursInTheParts() throws {
        var entry = makeEntry([sampleMailbox("bob", 2)], states: [.pending(arrival: t0)])
        QueueScheduler().record(.permanentFailure(Reply(550, EnhancedStatusCode(5, 0, 0), "--=_" + entry.id.text
                                                        + ".failed.0=1")), recipient: 0, in: &entry, now: t0, random: 0.5)
        let request = QueueScheduler().notifications(for: entry, now: t0)[0]
        let planted = "X-Evil: --=_" + entry.id.text + ".failed.0\r\nX-Evil2: --=_" + entry.id.text + ".failed.0=2\r\n"
        let (top, parts) = try renderAndParse(request, entry, original: Array((planted + "\r\nbody").utf8))
        XCTAssertTrue(top.field("content-type")!.contains("boundary=\"=_" + entry.id.text + ".failed.0=3\""),
                      top.field("content-type")!)
        XCTAssertEqual(parts[2].body, planted)
    }

    func testHeaderSectionIsNormalisedAndBounded() {
        XCTAssertEqual(DeliveryStatusNotification.headerSection(of: Array("A: 1\nB: 2\r\n\tfold\rC: 3\n\nbody".utf8)),
                       Array("A: 1\r\nB: 2\r\n\tfold\r\nC: 3\r\n".utf8))
        XCTAssertEqual(DeliveryStatusNotification.headerSection(of: Array("A: no body".utf8)), Array("A: no body\r\n".utf8))
        XCTAssertEqual(DeliveryStatusNotification.headerSection(of: []), [])
        let long = DeliveryStatusNotification.headerSection(of: Array(("X: " + String(repeating: "é", count: 2000)).utf8))
        XCTAssertLessThanOrEqual(long.count, 1000)
        XCTAssertNotNil(String(validating: long, as: UTF8.self), "not cut inside a UTF-8 sequence")
        let many = String(repeating: "X-Filler: 0123456789012345678901234567890123456789\r\n", count: 5000)
        let bounded = DeliveryStatusNotification.headerSection(of: Array(many.utf8))
        XCTAssertLessThanOrEqual(bounded.count, DeliveryStatusNotification.maximumHeaderSection)
        XCTAssertEqual(bounded.suffix(2), [0x0D, 0x0A], "whole lines")
    }

    func testUTF8AddressesUseTheGlobalTypes() throws {
        var entry = makeEntry([Mailbox(localPart: "jösé", domain: sampleOnion(2))], states: [.pending(arrival: t0)])
        QueueScheduler().record(.permanentFailure(Reply(550, EnhancedStatusCode(5, 1, 1), "no")), recipient: 0,
                                in: &entry, now: t0, random: 0.5)
        let request = QueueScheduler().notifications(for: entry, now: t0)[0]
        let (top, parts) = try renderAndParse(request, entry, original: Array("Subject: café\r\n\r\nx".utf8))
        XCTAssertTrue(top.field("content-type")!.hasPrefix("multipart/report; report-type=global-delivery-status"))
        XCTAssertEqual(top.field("content-transfer-encoding"), "8bit")
        XCTAssertEqual(parts[1].field("content-type"), "message/global-delivery-status")
        XCTAssertEqual(statusGroups(parts[1])[1].field("final-recipient"), "utf-8; jösé@" + sampleOnion(2))
        XCTAssertEqual(parts[2].field("content-type"), "message/global-headers")
    }
}
