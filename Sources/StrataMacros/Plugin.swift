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

/// A macro of this module that hands its expansion to `Implementation` (the compiler finds a macro by this module's
/// type name).
protocol Forwarding: ExtensionMacro {
    associatedtype Implementation: ExtensionMacro
}

extension Forwarding {
    public static func expansion(
        of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax, providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax], in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        try Implementation.expansion(of: node, attachedTo: declaration, providingExtensionsOf: type, conformingTo: protocols, in: context)
    }
}

/// A macro of this module that also hands its member role to `Implementation`.
protocol ForwardingMembers: MemberMacro {
    associatedtype Implementation: MemberMacro
}

extension ForwardingMembers {
    public static func expansion(
        of node: AttributeSyntax, providingMembersOf declaration: some DeclGroupSyntax, conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        try Implementation.expansion(of: node, providingMembersOf: declaration, conformingTo: protocols, in: context)
    }
}

/// `@Event`.
public struct EventMacro: Forwarding, ForwardingMembers { typealias Implementation = StrataMacroSupport.EventMacro }
/// `@FieldCodable`.
public struct FieldCodableMacro: Forwarding { typealias Implementation = StrataMacroSupport.FieldCodableMacro }
/// `@EventSet`.
public struct EventSetMacro: Forwarding { typealias Implementation = StrataMacroSupport.EventSetMacro }
