// SubmissionDate.swift — reads the Date: field of a submitted message
// (RFC 5322 §3.3 date-time, with the obsolete forms of §4.3) as an instant,
// so that SubmissionCleaner can rewrite it in UTC: the sender's time zone
// tells where the sender is, which an onion-to-onion message must not.
//
// Untrusted input: the field value, as the user's mail program wrote it.
// Anything that is not a date this parser is sure of gives nil (the cleaner
// then puts the submission time instead): no guessing.
// RFCs: RFC 5322 §3.3 (date-time), §4.3 (obsolete date and time: two- and
// three-digit years, UT/GMT and the US zone names, military zones, comments
// and folding white space between the parts).

/// An RFC 5322 date-time parsed to an instant.
public enum SubmissionDate {
    /// Seconds since 1970-01-01T00:00:00Z of `value` (a Date: field value,
    /// possibly folded, with comments), or nil when it is not a valid
    /// RFC 5322 date-time with a time zone.
    public static func unixSeconds(parsing value: ArraySlice<UInt8>) -> Int64? {
        guard let tokens = tokenize(value) else {
            return nil
        }
        var index = 0
        // [ day-of-week "," ]
        if index < tokens.count, dayNames.contains(lowercased(tokens[index])) {
            index += 1
            guard index < tokens.count, tokens[index] == [0x2C] else {
                return nil
            }
            index += 1
        }
        guard tokens.count - index == 5 || tokens.count - index == 4 else {
            return nil
        }
        guard let day = number(tokens[index], digits: 1...2),
              let month = monthNames.firstIndex(of: lowercased(tokens[index + 1])).map({ $0 + 1 }),
              let rawYear = number(tokens[index + 2], digits: 2...9),
              let time = clock(tokens[index + 3]) else {
            return nil
        }
        // A missing zone is not an instant (RFC 5322 §3.3 requires one).
        guard tokens.count - index == 5, let offset = zoneOffsetSeconds(tokens[index + 4]) else {
            return nil
        }
        // RFC 5322 §4.3: a two-digit year below 50 is 20xx, else 19xx; a
        // three-digit year is added to 1900.
        let yearDigits = tokens[index + 2].count
        let year = yearDigits == 2 ? (rawYear < 50 ? 2000 + rawYear : 1900 + rawYear)
            : (yearDigits == 3 ? 1900 + rawYear : rawYear)
        guard year >= 1900, year <= 9999, day >= 1, day <= daysIn(month: month, year: year) else {
            return nil
        }
        let days = daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        return days * 86_400 + time - offset
    }

    // MARK: - Pieces

    private static let dayNames: [[UInt8]] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map { Array($0.utf8) }
    private static let monthNames: [[UInt8]] = ["jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"].map { Array($0.utf8) }

    /// Splits the value into words and "," with comments and folding white
    /// space removed; white space around ":" is dropped (obs-hour etc. allow
    /// CFWS there). Nil on an unclosed comment or a control character.
    private static func tokenize(_ value: ArraySlice<UInt8>) -> [[UInt8]]? {
        var tokens: [[UInt8]] = []
        var current: [UInt8] = []
        var commentDepth = 0
        var escaped = false
        func flush() {
            if !current.isEmpty {
                tokens.append(current)
                current = []
            }
        }
        for byte in value {
            if commentDepth > 0 {
                if escaped {
                    escaped = false
                } else if byte == 0x5C {
                    escaped = true
                } else if byte == 0x28 {
                    commentDepth += 1
                } else if byte == 0x29 {
                    commentDepth -= 1
                }
                continue
            }
            switch byte {
            case 0x28:  // "(": a comment separates like white space
                flush()
                commentDepth = 1
            case 0x20, 0x09, 0x0D, 0x0A:
                flush()
            case 0x2C:  // ","
                flush()
                tokens.append([0x2C])
            case 0x3A:  // ":" joins the time's parts across white space
                if current.isEmpty, let last = tokens.last, last != [0x2C] {
                    current = tokens.removeLast()
                }
                current.append(byte)
            case 0x21...0x7E:
                if current.isEmpty, let last = tokens.last, last.last == 0x3A {
                    current = tokens.removeLast()
                }
                current.append(byte)
            default:
                return nil
            }
        }
        guard commentDepth == 0 else {
            return nil
        }
        flush()
        return tokens
    }

    /// A decimal number of the given number of digits.
    private static func number(_ token: [UInt8], digits: ClosedRange<Int>) -> Int? {
        guard digits.contains(token.count), token.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        var value = 0
        for digit in token {
            value = value * 10 + Int(digit - 0x30)
        }
        return value
    }

    /// `hh:mm[:ss]` as seconds into the day (a leap second 60 is allowed).
    private static func clock(_ token: [UInt8]) -> Int64? {
        let parts = token.split(separator: 0x3A, omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
              let hour = number(Array(parts[0]), digits: 2...2),
              let minute = number(Array(parts[1]), digits: 2...2) else {
            return nil
        }
        var second = 0
        if parts.count == 3 {
            guard let value = number(Array(parts[2]), digits: 2...2) else {
                return nil
            }
            second = value
        }
        guard hour <= 23, minute <= 59, second <= 60 else {
            return nil
        }
        return Int64(hour * 3600 + minute * 60 + second)
    }

    /// The zone's offset from UTC in seconds: `+hhmm` / `-hhmm`, or an
    /// obsolete name (RFC 5322 §4.3). Military letters were defined with the
    /// wrong sign in RFC 822, so they mean "-0000" (no information): UTC.
    private static func zoneOffsetSeconds(_ token: [UInt8]) -> Int64? {
        if let sign = token.first, sign == 0x2B || sign == 0x2D {
            guard token.count == 5, let hours = number(Array(token[1...2]), digits: 2...2),
                  let minutes = number(Array(token[3...4]), digits: 2...2), minutes <= 59 else {
                return nil
            }
            let seconds = Int64(hours * 3600 + minutes * 60)
            return sign == 0x2D ? -seconds : seconds
        }
        let name = lowercased(token)
        let named: [(String, Int64)] = [
            ("ut", 0), ("gmt", 0), ("z", 0),
            ("edt", -4), ("est", -5), ("cdt", -5), ("cst", -6),
            ("mdt", -6), ("mst", -7), ("pdt", -7), ("pst", -8),
        ]
        for (zone, hours) in named where Array(zone.utf8) == name {
            return hours * 3600
        }
        if name.count == 1, let letter = name.first, letter >= 0x61, letter <= 0x7A, letter != 0x6A {
            return 0  // military zone other than "J" (which is not a zone)
        }
        return nil
    }

    private static func lowercased(_ token: [UInt8]) -> [UInt8] {
        token.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 4, 6, 9, 11:
            return 30
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        default:
            return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
    /// days_from_civil; the inverse of UTCDate's civil_from_days).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
