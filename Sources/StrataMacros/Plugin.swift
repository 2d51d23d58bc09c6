import StrataMacroSupport
import SwiftCompilerPlugin
import SwiftSyntax
import SwiftSyntaxMacros

// The compiler plugin of Strata's macros (declared in the `Strata` module: `@Event`, `@FieldCodable`, `@EventSet`).
// The expansions live in `StrataMacroSupport`, a plain library, so that the macro tests link it without making
// SwiftPM build the whole test product a second time for the host (what a test target that depends on a macro
// target does). The compiler asks the plugin for `StrataMacros.<type>`: these types hand each expansion over.

@main
struct StrataMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [EventMacro.self, FieldCodableMacro.self, EventSetMacro.self]
}

/// `@Event`: see `StrataMacroSupport.EventMacro`.
public struct EventMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax, providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax], in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        try StrataMacroSupport.EventMacro.expansion(
            of: node, attachedTo: declaration, providingExtensionsOf: type, conformingTo: protocols, in: context)
    }
}

/// `@FieldCodable`: see `StrataMacroSupport.FieldCodableMacro`.
public struct FieldCodableMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax, providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax], in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        try StrataMacroSupport.FieldCodableMacro.expansion(
            of: node, attachedTo: declaration, providingExtensionsOf: type, conformingTo: protocols, in: context)
    }
}

/// `@EventSet`: see `StrataMacroSupport.EventSetMacro`.
public struct EventSetMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax, providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax], in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        try StrataMacroSupport.EventSetMacro.expansion(
            of: node, attachedTo: declaration, providingExtensionsOf: type, conformingTo: protocols, in: context)
    }
}
