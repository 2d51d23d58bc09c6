/// Text from outside (a key, a type name, a value someone sent) made safe to put into a message or a log line:
/// every character that is not plainly visible — control characters (a newline, a NUL), format characters (bidi
/// overrides, zero-width joiners), line and paragraph separators, private-use, unassigned and surrogate code
/// points — is written as `U+XXXX` (at least four hex digits), so a hostile value can neither break a message into
/// lines nor hide part of it. Everything else (letters of any script, digits, punctuation, spaces) is kept.
package func escapedForMessage(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        if isPlainlyVisible(scalar) {
            out.unicodeScalars.append(scalar)
        } else {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            out += "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }
    return out
}

/// `text` escaped (`escapedForMessage`) and in double quotes, with `"` and `\` inside written as `\"` and `\\`: where
/// the value starts and ends is never in doubt.
package func quotedForMessage(_ text: String) -> String {
    var inner = ""
    for character in escapedForMessage(text) {
        if character == "\"" || character == "\\" { inner.append("\\") }
        inner.append(character)
    }
    return "\"" + inner + "\""
}

private func isPlainlyVisible(_ scalar: Unicode.Scalar) -> Bool {
    if scalar == " " { return true }
    switch scalar.properties.generalCategory {
    case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: return false
    case .spaceSeparator: return false  // (no-break and other spaces that look like, or hide, nothing)
    default: return true
    }
}
