import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// One case of an enum as the synthesized `Codable` conformance sees it: a field named after the case whose value
/// is an object of the associated values (under their labels, or `_0`, `_1`, … by position where unlabelled).
struct EnumCase {
    /// The case's name as written (backticks kept), for `.name`.
    var name: String
    /// The payload key (the name without backticks).
    var key: String
    /// The associated values: `name` is the binding used in the generated code, `key` the payload key.
    var values: [StoredField]

    var keyLiteral: String { StringLiteralExprSyntax(content: key).description }
}

/// The cases of an enum in declaration order, as its synthesized `Codable` conformance encodes them; nil (after
/// diagnosing why) when `@FieldCodable` cannot generate a reader and writer that agree with that conformance.
func enumCases(of decl: EnumDeclSyntax, macro: String, in context: some MacroExpansionContext) -> [EnumCase]? {
    let diagnosed = DiagnosticCount()
    func fail(_ node: some SyntaxProtocol, _ id: String, _ message: String) {
        context.error(node, id, message)
        diagnosed.value += 1
    }
    // A raw-value enum encodes as its raw value (one value, not fields).
    let rawTypes: Set<String> = [
        "String", "Character", "Int", "Int8", "Int16", "Int32", "Int64", "UInt", "UInt8", "UInt16", "UInt32", "UInt64",
        "Double", "Float",
    ]
    if let first = decl.inheritanceClause?.inheritedTypes.first?.type.as(IdentifierTypeSyntax.self), rawTypes.contains(first.name.text) {
        fail(first, "rawValueEnum", "\(macro): a raw-value enum is coded as its raw value, not as fields — Codable handles it as it is")
        return nil
    }
    var cases: [EnumCase] = []
    var keys: Set<String> = []
    for member in decl.memberBlock.members {
        if let nested = member.decl.as(EnumDeclSyntax.self), nested.name.text.hasSuffix("CodingKeys") {
            fail(nested, "customCodingKeys", "\(macro) writes an enum's cases and values under their own names, as the synthesized Codable conformance does without \(nested.name.text); remove it, or the macro")
        }
        refuseHandWrittenCodable(member, macro: macro, coding: "the cases") { fail($0, $1, $2) }
        guard let caseDecl = member.decl.as(EnumCaseDeclSyntax.self) else { continue }
        for element in caseDecl.elements {
            if let raw = element.rawValue {
                fail(raw, "rawValueEnum", "\(macro): a raw-value enum is coded as its raw value, not as fields — Codable handles it as it is")
                continue
            }
            let name = element.name.text
            let key = unescaped(name)
            guard keys.insert(key).inserted else {
                fail(element, "duplicateKey", "two cases named \"\(key)\"")
                continue
            }
            var values: [StoredField] = []
            var valueKeys: Set<String> = []
            for (index, parameter) in (element.parameterClause?.parameters ?? []).enumerated() {
                let label = parameter.firstName.map { $0.text == "_" ? nil : $0.text } ?? nil
                let valueKey = label.map(unescaped) ?? "_\(index)"
                guard valueKeys.insert(valueKey).inserted else {
                    fail(parameter, "duplicateKey", "two associated values of case \(key) under the key \"\(valueKey)\"")
                    continue
                }
                values.append(StoredField(name: "v\(index)", key: valueKey, isOptional: isOptionalType(parameter.type), isDecoded: true, label: label))
                if let kind = codableOnlyKind(parameter.type) {
                    context.diagnose(Diagnostic(node: Syntax(parameter.type), message: StrataMessage(
                        message: "\(macro): '\(key).\(valueKey)' (\(kind)) is read and written through Codable, not field by field",
                        id: "codableField", severity: .remark)))
                }
            }
            cases.append(EnumCase(name: name, key: key, values: values))
        }
    }
    if cases.isEmpty && diagnosed.value == 0 {
        fail(decl.name, "noCases", "\(macro): an enum without cases has no value to read or write")
    }
    guard diagnosed.value == 0 else { return nil }
    return cases
}

/// The extension `@FieldCodable` generates for an enum: `init(fields:)` finds the one case field and reads its
/// associated values from the nested object; `encode(fields:)` writes them (key order for JSON, declaration order for
/// binary).
func enumCodingExtension(
    type: some TypeSyntaxProtocol, conformances protocols: [TypeSyntax], access: String, cases: [EnumCase], macro: String
) -> [ExtensionDeclSyntax] {
    let conformances = protocols.isEmpty ? "" : ": " + protocols.map { $0.trimmedDescription }.joined(separator: ", ")
    var reader = "switch try fields.enumCase(of: Self.self, \(cases.map(\.keyLiteral).joined(separator: ", "))) {\n"
    for (index, enumCase) in cases.enumerated() {
        reader += index == cases.count - 1 ? "default:\n" : "case \(index):\n"
        let arguments = enumCase.values.map { value in
            let read = "try fields.\(value.isOptional ? "decodeIfPresent" : "decode")(forKey: \(value.keyLiteral))"
            return value.label.map { "\($0): \(read)" } ?? read
        }
        let made = "Self.\(enumCase.name)" + (enumCase.values.isEmpty ? "" : "(\(arguments.joined(separator: ", ")))")
        let parameter = enumCase.values.isEmpty ? "_" : "fields"
        reader += "self = try fields.withNestedFields(forKey: \(enumCase.keyLiteral)) { (\(parameter): borrowing Strata.PayloadFields) throws -> Self in\n\(made)\n}\n"
    }
    reader += "}"
    var writer = "switch self {\n"
    for enumCase in cases {
        let bindings = enumCase.values.map { "let \($0.name)" }
        writer += "case .\(enumCase.name)\(enumCase.values.isEmpty ? "" : "(\(bindings.joined(separator: ", ")))"):\n"
        let parameter = enumCase.values.isEmpty ? "_" : "fields"
        let writes = fieldWriter(enumCase.values, owner: "")
        let body = writes.isEmpty ? " " : "\n\(writes)\n"
        writer += "try fields.writeNested(forKey: \(enumCase.keyLiteral)) { (\(parameter): inout Strata.PayloadFieldsWriter) throws in\(body)}\n"
    }
    writer += "}"
    let source = """
        extension \(type.trimmedDescription)\(conformances) {
        /// Reads the case and its associated values from the payload's fields (generated by `\(macro)`).
        \(access)init(fields: borrowing Strata.PayloadFields) throws {
        \(reader)
        }
        /// Writes the case and its associated values as the payload's fields (generated by `\(macro)`).
        \(access)func encode(fields: inout Strata.PayloadFieldsWriter) throws {
        \(writer)
        }
        }
        """
    return parsedExtension(source)
}
