import SwiftDiagnostics
import SwiftParser
import SwiftSyntax
import SwiftSyntaxMacros

/// A diagnostic of Strata's macros.
struct StrataMessage: DiagnosticMessage {
    let message: String
    let id: String
    let severity: DiagnosticSeverity

    var diagnosticID: MessageID { MessageID(domain: "Strata", id: id) }

    static func error(_ id: String, _ message: String) -> Self { Self(message: message, id: id, severity: .error) }
}

extension MacroExpansionContext {
    /// Diagnoses error `id` at `node`.
    func error(_ node: some SyntaxProtocol, _ id: String, _ message: String) {
        diagnose(Diagnostic(node: Syntax(node), message: StrataMessage.error(id, message)))
    }
}

/// The one declaration of `source` (an extension a macro generates).
func parsedExtension(_ source: String) -> [ExtensionDeclSyntax] {
    guard let decl = Parser.parse(source: source).statements.first?.item.as(ExtensionDeclSyntax.self) else { return [] }
    return [decl]
}

/// One stored property as the synthesized `Codable` conformance sees it: read from and written to the payload
/// under `key`.
struct StoredField {
    /// The property's name as written (backticks kept), for `self.<name>`.
    var name: String
    /// The payload key (the name, or its `CodingKeys` raw value).
    var key: String
    /// Spelled as an optional type (`T?`, `T!`, `Optional<T>`): read with `decodeIfPresent`, written only when not
    /// nil (what the synthesized conformance does).
    var isOptional: Bool
    /// Whether decoding sets it (the synthesized `Decodable` skips a `let` with an initial value).
    var isDecoded: Bool
    /// An enum case's associated value: its label (nil: unlabelled).
    var label: String? = nil
    /// The property's type as written (nil: not written, inferred from its initial value).
    var type: TypeSyntax? = nil

    /// The Swift string literal of the key.
    var keyLiteral: String { StringLiteralExprSyntax(content: key).description }
}

/// How many errors a macro diagnosed.
final class DiagnosticCount {
    var value = 0
}

/// The stored properties of a struct in declaration order, as its synthesized `Codable` conformance encodes them;
/// nil (after diagnosing why) when a macro cannot generate a field reader and writer that agree with that
/// conformance.
func storedFields(of decl: StructDeclSyntax, macro: String, in context: some MacroExpansionContext) -> [StoredField]? {
    // (A counter object, not a captured `var`: the compiler's reachability check misjudged one as never changed.)
    let diagnosed = DiagnosticCount()
    func fail(_ node: some SyntaxProtocol, _ id: String, _ message: String) {
        context.error(node, id, message)
        diagnosed.value += 1
    }

    // The keys of a `CodingKeys` enum, when the type declares one: only its properties are coded, under its keys,
    // in the order of its cases (the synthesized `encode(to:)` follows the enum).
    var codingKeys: [String: (key: String, order: Int)]? = nil
    for member in decl.memberBlock.members {
        if let keys = member.decl.as(EnumDeclSyntax.self), keys.name.text == "CodingKeys" {
            var found: [String: (key: String, order: Int)] = [:]
            var keysSeen: Set<String> = []
            for caseDecl in keys.memberBlock.members.compactMap({ $0.decl.as(EnumCaseDeclSyntax.self) }) {
                for element in caseDecl.elements {
                    let name = unescaped(element.name.text)
                    var key = name
                    if let raw = element.rawValue {
                        guard let literal = raw.value.as(StringLiteralExprSyntax.self), let text = literal.representedLiteralValue else {
                            fail(raw, "codingKeyNotLiteral", "\(macro) reads CodingKeys' raw values at compile time: write this key as a plain string literal")
                            continue
                        }
                        key = text
                    }
                    guard keysSeen.insert(key).inserted else {
                        fail(element, "duplicateKey", "two properties under the key \"\(key)\": a payload holds one field per key")
                        continue
                    }
                    found[name] = (key, found.count)
                }
            }
            codingKeys = found
        }
        refuseHandWrittenCodable(member, macro: macro, coding: "the stored properties") { fail($0, $1, $2) }
    }

    var fields: [StoredField] = []
    for member in decl.memberBlock.members {
        guard let variable = member.decl.as(VariableDeclSyntax.self) else { continue }
        if variable.modifiers.contains(where: { [.keyword(.static), .keyword(.class)].contains($0.name.tokenKind) }) { continue }
        let isLet = variable.bindingSpecifier.tokenKind == .keyword(.let)
        let bindings = Array(variable.bindings)
        for (index, binding) in bindings.enumerated() {
            if let accessors = binding.accessorBlock, !isObserversOnly(accessors) { continue }  // computed
            guard let pattern = binding.pattern.as(IdentifierPatternSyntax.self) else {
                fail(binding.pattern, "pattern", "\(macro) needs one name per stored property: declare these separately")
                continue
            }
            if let attribute = variable.attributes.first {
                fail(attribute, "propertyWrapper", "\(macro) does not support property wrappers (Codable would encode the wrapper)")
                continue
            }
            if variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.lazy) }) {
                fail(variable.bindingSpecifier, "lazy", "\(macro) does not support lazy properties: make it a computed property or a plain stored one")
                continue
            }
            let name = pattern.identifier.text
            let key: String
            if let codingKeys {
                guard let mapped = codingKeys[unescaped(name)] else { continue }  // not coded (it has a default)
                key = mapped.key
            } else {
                key = unescaped(name)
            }
            // `var a, b: Int`: the type written on a later binding of the same declaration.
            let type = bindings[index...].lazy.compactMap { $0.typeAnnotation?.type }.first
            fields.append(StoredField(
                name: name, key: key, isOptional: type.map(isOptionalType) ?? false,
                isDecoded: !(isLet && binding.initializer != nil), type: type))
            if let type, let kind = codableOnlyKind(type) {
                context.diagnose(Diagnostic(node: Syntax(type), message: StrataMessage(
                    message: "\(macro): '\(unescaped(name))' (\(kind)) is read and written through Codable, not field by field",
                    id: "codableField", severity: .remark)))
            }
        }
    }
    guard diagnosed.value == 0 else { return nil }
    if let codingKeys {
        // Written in the order of CodingKeys' cases (every field kept above has its case there).
        return fields.sorted { codingKeys[unescaped($0.name)]!.order < codingKeys[unescaped($1.name)]!.order }
    }
    return fields
}

/// The access modifier a type's members need to witness its conformances (`public` or `package`; else none), from
/// the type's modifiers.
func memberAccess(_ modifiers: DeclModifierListSyntax) -> String {
    for modifier in modifiers {
        switch modifier.name.tokenKind {
        case .keyword(.public), .keyword(.open): return "public "
        case .keyword(.package): return "package "
        default: continue
        }
    }
    return ""
}

/// The keys in the order JSON payloads hold them: by their UTF-8 bytes (what the JSON codec sorts by).
func sortedByKey(_ fields: [StoredField]) -> [StoredField] {
    fields.enumerated().sorted { a, b in
        let (x, y) = (Array(a.element.key.utf8), Array(b.element.key.utf8))
        return x == y ? a.offset < b.offset : x.lexicographicallyPrecedes(y)
    }.map(\.element)
}

/// The statements of a generated `init(fields:)`: each decoded field read in the payload's order (key order for
/// JSON, declaration order for binary).
func fieldReader(_ fields: [StoredField]) -> String {
    func reads(_ fields: [StoredField]) -> String {
        fields.filter(\.isDecoded).map { field in
            "self.\(field.name) = try fields.\(field.isOptional ? "decodeIfPresent" : "decode")(forKey: \(field.keyLiteral))"
        }.joined(separator: "\n")
    }
    let sorted = sortedByKey(fields)
    if sorted.map(\.key) == fields.map(\.key) { return reads(fields) }
    return "if fields.sortsKeys {\n\(reads(sorted))\n} else {\n\(reads(fields))\n}"
}

/// The statements of a generated `encode(fields:)`: every field, in key order for JSON and declaration order for
/// binary (the bytes the synthesized `Encodable` gives through either codec).
func fieldWriter(_ fields: [StoredField], owner: String = "self.") -> String {
    func writes(_ fields: [StoredField]) -> String {
        fields.map { field in
            "try fields.\(field.isOptional ? "writeIfPresent" : "write")(\(owner)\(field.name), forKey: \(field.keyLiteral))"
        }.joined(separator: "\n")
    }
    if fields.isEmpty { return "" }
    let sorted = sortedByKey(fields)
    if sorted.map(\.key) == fields.map(\.key) { return writes(fields) }
    return "if fields.sortsKeys {\n\(writes(sorted))\n} else {\n\(writes(fields))\n}"
}

func unescaped(_ name: String) -> String {
    name.hasPrefix("`") && name.hasSuffix("`") && name.count >= 2 ? String(name.dropFirst().dropLast()) : name
}

/// Diagnoses `member` when it is a hand-written `init(from:)` or `encode(to:)`: the macro writes and reads `coding`
/// as the synthesized `Codable` conformance does, which such a member could disagree with.
func refuseHandWrittenCodable(
    _ member: MemberBlockItemSyntax, macro: String, coding: String, _ fail: (Syntax, String, String) -> Void
) {
    let written: (Syntax, String)?
    if let initializer = member.decl.as(InitializerDeclSyntax.self), hasParameter(initializer.signature.parameterClause, label: "from") {
        written = (Syntax(initializer), "init(from:)")
    } else if let function = member.decl.as(FunctionDeclSyntax.self), function.name.text == "encode",
        hasParameter(function.signature.parameterClause, label: "to")
    {
        written = (Syntax(function), "encode(to:)")
    } else {
        written = nil
    }
    guard let (node, name) = written else { return }
    fail(node, "customCodable", "\(macro) writes and reads \(coding) the way the synthesized Codable conformance does; a hand-written \(name) could disagree with it — remove it, or the macro")
}

func hasParameter(_ clause: FunctionParameterClauseSyntax, label: String) -> Bool {
    clause.parameters.count == 1 && clause.parameters.first?.firstName.text == label
}

private func isObserversOnly(_ block: AccessorBlockSyntax) -> Bool {
    guard case .accessors(let accessors) = block.accessors else { return false }
    return accessors.allSatisfy { [.keyword(.willSet), .keyword(.didSet)].contains($0.accessorSpecifier.tokenKind) }
}

/// What kind of type a field's value is when the macros' field reader and writer hand it to `Codable` whatever it is
/// (collections and the Foundation types other than `Date` and `UUID`); nil for the primitives, `Date` and `UUID`
/// (read directly) and named types (read by their own fields when they have them — the macros cannot see that from
/// here).
func codableOnlyKind(_ type: TypeSyntax) -> String? {
    if let optional = type.as(OptionalTypeSyntax.self) { return codableOnlyKind(optional.wrappedType) }
    if let optional = type.as(ImplicitlyUnwrappedOptionalTypeSyntax.self) { return codableOnlyKind(optional.wrappedType) }
    if type.is(ArrayTypeSyntax.self) { return "an array" }
    if type.is(DictionaryTypeSyntax.self) { return "a dictionary" }
    if let identifier = type.as(IdentifierTypeSyntax.self) {
        switch identifier.name.text {
        case "Optional":
            guard case .type(let wrapped)? = identifier.genericArgumentClause?.arguments.first?.argument else { return nil }
            return codableOnlyKind(wrapped)
        case "Array", "ContiguousArray": return "an array"
        case "Dictionary": return "a dictionary"
        case "Set": return "a set"
        case "Data", "URL", "Decimal": return identifier.name.text  // (`Date` and `UUID` are read directly)
        default: return nil
        }
    }
    return nil
}

func isOptionalType(_ type: TypeSyntax) -> Bool {
    if type.is(OptionalTypeSyntax.self) || type.is(ImplicitlyUnwrappedOptionalTypeSyntax.self) { return true }
    if let identifier = type.as(IdentifierTypeSyntax.self) { return identifier.name.text == "Optional" && identifier.genericArgumentClause != nil }
    if let member = type.as(MemberTypeSyntax.self) {
        return member.name.text == "Optional" && member.baseType.as(IdentifierTypeSyntax.self)?.name.text == "Swift"
    }
    if let attributed = type.as(AttributedTypeSyntax.self) { return isOptionalType(attributed.baseType) }
    return false
}

/// Whether a field of this type (as written) is named like one that reads back equal from what it writes through
/// either codec: the primitives, `Date`, `UUID`, and optionals of them. (The generated code checks the real type.)
func isExactlyCoded(_ type: TypeSyntax) -> Bool {
    if let optional = type.as(OptionalTypeSyntax.self) { return isExactlyCoded(optional.wrappedType) }
    if let optional = type.as(ImplicitlyUnwrappedOptionalTypeSyntax.self) { return isExactlyCoded(optional.wrappedType) }
    let exact: Set<String> = [
        "String", "Bool", "Double", "Float", "Int", "Int8", "Int16", "Int32", "Int64", "UInt", "UInt8", "UInt16", "UInt32", "UInt64",
        "Date", "UUID",
    ]
    if let identifier = type.as(IdentifierTypeSyntax.self) {
        if identifier.name.text == "Optional", case .type(let wrapped)? = identifier.genericArgumentClause?.arguments.first?.argument {
            return isExactlyCoded(wrapped)
        }
        return identifier.genericArgumentClause == nil && exact.contains(identifier.name.text)
    }
    if let member = type.as(MemberTypeSyntax.self), member.genericArgumentClause == nil,
        let base = member.baseType.as(IdentifierTypeSyntax.self)?.name.text
    {
        return ["Swift", "Foundation"].contains(base) && exact.contains(member.name.text)
    }
    return false
}

/// A macro's context whose diagnostics are kept only when `report`: the second role of a macro (`@Event`'s members)
/// checks the declaration as its first role does, without saying it twice.
final class ReportingContext<Base: MacroExpansionContext>: MacroExpansionContext {
    let base: Base
    let report: Bool

    init(_ base: Base, report: Bool) {
        self.base = base
        self.report = report
    }

    func makeUniqueName(_ name: String) -> TokenSyntax { base.makeUniqueName(name) }
    func diagnose(_ diagnostic: Diagnostic) { if report { base.diagnose(diagnostic) } }
    func location(
        of node: some SyntaxProtocol, at position: PositionInSyntaxNode, filePathMode: SourceLocationFilePathMode
    ) -> AbstractSourceLocation? {
        base.location(of: node, at: position, filePathMode: filePathMode)
    }
    var lexicalContext: [Syntax] { base.lexicalContext }
}
