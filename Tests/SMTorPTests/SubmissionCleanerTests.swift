// SubmissionCleanerTests.swift — the header cleaning of submitted messages,
// table-driven: Received and mailer fields removed, Message-ID host
// rewritten (or one added), Date converted to UTC for many zones (or added),
// folded fields, the body byte for byte; and the RFC 5322 date parser with
// valid and invalid dates.

import XCTest
@testable import SMTorP

final class SubmissionCleanerTests: XCTestCase {
    let onion = SubmissionNode.onion
    /// 2026-11-29T13:05:09Z, the submission time of these tests.
    let now: Int64 = 1_795_957_509
    let random: [UInt8] = Array(0..<16)
    var randomLocal: String { Base32.encode(random) }

    func clean(_ text: String, keepsMailerFields: Bool = false) -> String {
        let cleaner = SubmissionCleaner(hostname: onion, keepsMailerFields: keepsMailerFields)
        return String(decoding: cleaner.clean(Array(text.utf8), unixSeconds: now, randomBytes: random), as: UTF8.self)
    }

    func testSubmissionTimeIsWhatTheTestsAssume() {
        XCTAssertEqual(UTCDate(unixSeconds: now).rfc5322, "Sun, 29 Nov 2026 13:05:09 +0000")
    }

    func testCleaningTable() {
        let date = "Date: Sun, 29 Nov 2026 13:05:09 +0000\r\n"
        let id = "Message-ID: <abc.123@\(onion)>\r\n"
        let cases: [(name: String, input: String, expected: String)] = [
            ("Received fields removed, folded ones too",
             "Received: from laptop.home (192.168.1.7)\r\n\tby mail.example; Sun, 29 Nov 2026 14:05:09 +0100\r\n"
                + "From: a@b\r\nReceived: by x\r\n" + date + id + "\r\nbody\r\n",
             "From: a@b\r\n" + date + id + "\r\nbody\r\n"),
            ("mailer fields removed, any case, folded",
             "User-Agent: Mozilla/5.0 (X11; Linux x86_64;\r\n rv:128.0) Thunderbird/128.0\r\nx-mailer: Foo 1.0\r\n"
                + "Subject: hi\r\n" + date + id + "\r\nb\r\n",
             "Subject: hi\r\n" + date + id + "\r\nb\r\n"),
            ("Message-ID host rewritten, local part kept",
             "Message-ID: <abc.123@laptop.home.example>\r\n" + date + "\r\n",
             id + date + "\r\n"),
            ("Message-ID folded with a comment",
             "Message-Id:\r\n <abc.123@laptop> (my machine)\r\n" + date + "\r\n",
             id + date + "\r\n"),
            ("Message-ID unreadable: a random one",
             "Message-ID: laptop\r\n" + date + "\r\n",
             "Message-ID: <\(randomLocal)@\(onion)>\r\n" + date + "\r\n"),
            ("a second Message-ID and Date removed",
             id + date + "Message-ID: <x@y>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n",
             id + date + "\r\n"),
            ("Date and Message-ID added when missing, at the end of the header",
             "From: a@b\r\nSubject: s\r\n\r\nbody\r\n",
             "From: a@b\r\nSubject: s\r\n" + date + "Message-ID: <\(randomLocal)@\(onion)>\r\n\r\nbody\r\n"),
            ("no body, no final line end",
             "Subject: s",
             "Subject: s\r\n" + date + "Message-ID: <\(randomLocal)@\(onion)>\r\n"),
            ("unparseable Date replaced by the submission time",
             "Date: yesterday around noon\r\n" + id + "\r\n",
             date + id + "\r\n"),
            ("Date converted to UTC, same instant",
             "Date: Sun, 29 Nov 2026 08:05:09 -0500\r\n" + id + "\r\n",
             date + id + "\r\n"),
            ("other fields untouched, body untouched byte for byte (even header-like lines)",
             "To: <x@y>\r\nX-Other:  keep  \r\n" + date + id + "\r\nReceived: in the body\r\nUser-Agent: too\r\n"
                + "Date: Mon, 1 Jan 2024 00:00:00 +0900\r\n\r\n.\r\n\u{00E4}\r\n",
             "To: <x@y>\r\nX-Other:  keep  \r\n" + date + id + "\r\nReceived: in the body\r\nUser-Agent: too\r\n"
                + "Date: Mon, 1 Jan 2024 00:00:00 +0900\r\n\r\n.\r\n\u{00E4}\r\n"),
            ("bare LF line ends", "Received: x\nSubject: s\n" + "Date: Sun, 29 Nov 2026 13:05:09 GMT\n" + id + "\nbody\n",
             "Subject: s\n" + date + id + "\nbody\n"),
            ("an empty header", "\r\nbody\r\n",
             date + "Message-ID: <\(randomLocal)@\(onion)>\r\n\r\nbody\r\n"),
        ]
        for testCase in cases {
            XCTAssertEqual(clean(testCase.input), testCase.expected, testCase.name)
        }
    }

    func testMailerFieldsCanBeKept() {
        let input = "User-Agent: Thunderbird\r\nX-Mailer: Foo\r\nDate: Sun, 29 Nov 2026 13:05:09 +0000\r\n"
            + "Message-ID: <a@\(onion)>\r\n\r\n"
        XCTAssertEqual(clean(input, keepsMailerFields: true), input)
    }

    func testBodyIsCopiedByteForByte() {
        var body: [UInt8] = Array(0...255)
        body += Array("\r\n\r\nReceived: x\r\n".utf8) + [0x0D, 0x0A]
        let input = Array("Received: y\r\nSubject: s\r\n\r\n".utf8) + body
        let output = SubmissionCleaner(hostname: onion).clean(input, unixSeconds: now, randomBytes: random)
        XCTAssertEqual(Array(output.suffix(body.count + 2)), [0x0D, 0x0A] + body)
    }

    func testDatesInManyZones() {
        // Each is 2026-11-29T13:05:09Z, written in another zone or form.
        let same = [
            "Sun, 29 Nov 2026 13:05:09 +0000",
            "Sun, 29 Nov 2026 14:05:09 +0100",
            "Mon, 30 Nov 2026 00:35:09 +1130",
            "Sun, 29 Nov 2026 05:05:09 -0800",
            "Sun, 29 Nov 2026 08:05:09 EST",
            "Sun, 29 Nov 2026 09:05:09 EDT",
            "Sun, 29 Nov 2026 07:05:09 CST",
            "Sun, 29 Nov 2026 08:05:09 CDT",
            "Sun, 29 Nov 2026 06:05:09 MST",
            "Sun, 29 Nov 2026 07:05:09 MDT",
            "Sun, 29 Nov 2026 05:05:09 PST",
            "Sun, 29 Nov 2026 06:05:09 PDT",
            "Sun, 29 Nov 2026 13:05:09 GMT",
            "Sun, 29 Nov 2026 13:05:09 UT",
            "Sun, 29 Nov 2026 13:05:09 Z",
            "Sun, 29 Nov 2026 13:05:09 A",               // military: unknown, taken as UTC
            "29 Nov 2026 13:05:09 +0000",                 // no day of week
            "sun, 29 nov 2026 13:05:09 +0000",            // names in any case
            "Sun,29 Nov 2026 13:05:09 +0000",
            "Sun, 29 Nov 26 13:05:09 +0000",              // obsolete two-digit year
            "Sun, 29 Nov 126 13:05:09 +0000",             // obsolete three-digit year
            "Sun (Sunday), 29 Nov 2026 13:05:09 +0000 (UTC)",
            "Sun, 29\r\n Nov 2026 13 : 05 : 09 +0000",    // folded, obsolete spaces
            "Sun, 29 Nov 2026 13:05:09 +0000 (Coordinated (Universal) Time)",
        ]
        for text in same {
            XCTAssertEqual(SubmissionDate.unixSeconds(parsing: Array(text.utf8)[...]), now, text)
        }
        XCTAssertEqual(SubmissionDate.unixSeconds(parsing: Array("Thu, 1 Jan 1970 00:00 +0000".utf8)[...]), 0)
        XCTAssertEqual(SubmissionDate.unixSeconds(parsing: Array("29 Feb 2024 23:59:60 +0000".utf8)[...]),
                       1_709_251_200, "leap day and leap second")
        XCTAssertEqual(SubmissionDate.unixSeconds(parsing: Array("1 Jan 49 00:00:00 +0000".utf8)[...]),
                       2_493_072_000, "49 is 2049")
        XCTAssertEqual(SubmissionDate.unixSeconds(parsing: Array("1 Jan 50 00:00:00 +0000".utf8)[...]),
                       -631_152_000, "50 is 1950")
    }

    func testInvalidDates() {
        let invalid = [
            "", "yesterday", "Sun, 29 Nov 2026 13:05:09",  // no zone
            "Sun 29 Nov 2026 13:05:09 +0000",                  // day name without comma
            "Sun, 31 Nov 2026 13:05:09 +0000", "Sun, 29 Feb 2026 13:05:09 +0000", "Sun, 0 Nov 2026 13:05:09 +0000",
            "Sun, 29 Foo 2026 13:05:09 +0000", "Sun, 29 Nov 2026 24:00:00 +0000", "Sun, 29 Nov 2026 13:60:00 +0000",
            "Sun, 29 Nov 2026 13:05:61 +0000", "Sun, 29 Nov 2026 1:05:09 +0000", "Sun, 29 Nov 2026 13:05:09 +000",
            "Sun, 29 Nov 2026 13:05:09 +0060", "Sun, 29 Nov 2026 13:05:09 XYZ", "Sun, 29 Nov 2026 13:05:09 J",
            "Sun, 29 Nov 2026 13:05:09 +0000 extra", "Sun, 29 Nov 1899 13:05:09 +0000",
            "Sun, 29 Nov 2026 13:05:09 +0000 (unclosed", "Sun, 29 Nov 2026 13:05:09\u{7} +0000",
            "Sun, 123 Nov 2026 13:05:09 +0000", "Sun, 29 Nov 2 13:05:09 +0000",
        ]
        for text in invalid {
            XCTAssertNil(SubmissionDate.unixSeconds(parsing: Array(text.utf8)[...]), text)
        }
    }

    func testDaysFromCivilInvertsUTCDate() {
        for seconds: Int64 in [0, 86_399, 951_782_400, 1_795_957_509, 4_102_444_800, -2_208_988_800] {
            let date = UTCDate(unixSeconds: seconds)
            let days = SubmissionDate.daysFromCivil(year: Int64(date.year), month: Int64(date.month),
                                                    day: Int64(date.day))
            XCTAssertEqual(days * 86_400 + Int64(date.hour * 3600 + date.minute * 60 + date.second), seconds)
        }
    }
}
