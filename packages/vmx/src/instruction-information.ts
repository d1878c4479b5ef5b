// The VM-exit instruction-information field, SDM Vol. 3C §28.2.5 ("Information for VM Exits
// Due to Instruction Execution"), tables "Format of the VM-Exit Instruction-Information Field
// as Used for INS and OUTS", "... for INVEPT, INVPCID, and INVVPID", "... for LIDT, LGDT, SIDT,
// or SGDT", "... for LLDT, LTR, SLDT, and STR" and "... for RDRAND and RDSEED".
// For the instructions with a memory operand, the exit qualification holds the operand's
// displacement (sign-extended); for INVLPG (which has no instruction-information field) it
// holds the linear-address operand.
import { fit, flag, low32 } from './bits.js';

/** Address size, bits 9:7 (SDM Vol. 3C §28.2.5). 3..7 are not used. */
export const AddressSize = {
  /** 0: 16-bit. */
  BITS_16: 0,
  /** 1: 32-bit. */
  BITS_32: 1,
  /** 2: 64-bit (used only on processors that support Intel 64 architecture). */
  BITS_64: 2,
} as const;

/**
 * The memory-operand fields shared by the instruction-information layouts of INVEPT/INVPCID/
 * INVVPID, LIDT/LGDT/SIDT/SGDT and LLDT/LTR/SLDT/STR (SDM Vol. 3C §28.2.5).
 */
export interface MemoryOperandInfo {
  /** Bits 1:0 scaling: 0 = none, 1 = by 2, 2 = by 4, 3 = by 8 (undefined without an index). */
  readonly scaling: number;
  /** Bits 9:7: {@link AddressSize}. */
  readonly addressSize: number;
  /** Bits 17:15: {@link SegmentRegister}. */
  readonly segment: number;
  /** Bits 21:18 IndexReg ({@link Gpr}; undefined when `indexInvalid`). */
  readonly indexRegister: number;
  /** Bit 22: IndexReg invalid (the operand has no index). */
  readonly indexInvalid: boolean;
  /** Bits 26:23 BaseReg ({@link Gpr}; undefined when `baseInvalid`). */
  readonly baseRegister: number;
  /** Bit 27: BaseReg invalid (the operand has no base). */
  readonly baseInvalid: boolean;
}

function encodeMemoryOperand(i: MemoryOperandInfo): number {
  return (
    fit(i.scaling, 2, 'scaling') |
    (fit(i.addressSize, 3, 'addressSize') << 7) |
    (fit(i.segment, 3, 'segment') << 15) |
    (fit(i.indexRegister, 4, 'indexRegister') << 18) |
    (flag(i.indexInvalid, 'indexInvalid') << 22) |
    (fit(i.baseRegister, 4, 'baseRegister') << 23) |
    (flag(i.baseInvalid, 'baseInvalid') << 27)
  );
}

function decodeMemoryOperand(v: number): MemoryOperandInfo {
  return {
    scaling: v & 3,
    addressSize: (v >>> 7) & 7,
    segment: (v >>> 15) & 7,
    indexRegister: (v >>> 18) & 0xf,
    indexInvalid: ((v >>> 22) & 1) === 1,
    baseRegister: (v >>> 23) & 0xf,
    baseInvalid: ((v >>> 27) & 1) === 1,
  };
}

/** Instruction information for INVEPT, INVPCID and INVVPID (SDM Vol. 3C §28.2.5). */
export interface InvalidationInfo extends MemoryOperandInfo {
  /** Bits 31:28 Reg2: the register operand holding the INVEPT/INVPCID/INVVPID type. */
  readonly reg2: number;
}

/**
 * Encodes the instruction information of INVEPT, INVPCID or INVVPID.
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * // INVPCID RAX, [RBX] in 64-bit mode, DS
 * encodeInvalidationInfo({ scaling: 0, addressSize: AddressSize.BITS_64, segment: 3,
 *   indexRegister: 0, indexInvalid: true, baseRegister: 3, baseInvalid: false, reg2: 0 });
 * ```
 */
export function encodeInvalidationInfo(i: InvalidationInfo): number {
  return (encodeMemoryOperand(i) | (fit(i.reg2, 4, 'reg2') << 28)) >>> 0;
}

/**
 * Decodes the instruction information of INVEPT, INVPCID or INVVPID. Undefined bits are
 * ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeInvalidationInfo(0x01c1_8100).baseRegister; // 3 (RBX)
 * ```
 */
export function decodeInvalidationInfo(value: number | bigint): InvalidationInfo {
  const v = low32(value, 'instruction information');
  return { ...decodeMemoryOperand(v), reg2: v >>> 28 };
}

/** Instruction identity of LIDT/LGDT/SIDT/SGDT, bits 29:28 (SDM Vol. 3C §28.2.5). */
export const DescriptorTableInstruction = {
  /** 0: SGDT. */
  SGDT: 0,
  /** 1: SIDT. */
  SIDT: 1,
  /** 2: LGDT. */
  LGDT: 2,
  /** 3: LIDT. */
  LIDT: 3,
} as const;

/** Instruction information for LIDT, LGDT, SIDT and SGDT (SDM Vol. 3C §28.2.5). */
export interface DescriptorTableInfo extends MemoryOperandInfo {
  /** Bit 11 operand size: false = 16-bit, true = 32-bit (undefined in 64-bit mode). */
  readonly operandSize32: boolean;
  /** Bits 29:28: {@link DescriptorTableInstruction}. */
  readonly instruction: number;
}

/**
 * Encodes the instruction information of LIDT, LGDT, SIDT or SGDT (exit reason 46).
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * encodeDescriptorTableInfo({ scaling: 0, addressSize: 2, segment: 3, indexRegister: 0,
 *   indexInvalid: true, baseRegister: 0, baseInvalid: false, operandSize32: false,
 *   instruction: DescriptorTableInstruction.LGDT });
 * ```
 */
export function encodeDescriptorTableInfo(i: DescriptorTableInfo): number {
  return (
    (encodeMemoryOperand(i) |
      (flag(i.operandSize32, 'operandSize32') << 11) |
      (fit(i.instruction, 2, 'instruction') << 28)) >>>
    0
  );
}

/**
 * Decodes the instruction information of LIDT, LGDT, SIDT or SGDT. Undefined bits are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeDescriptorTableInfo(0x2040_8100).instruction; // 2 (LGDT)
 * ```
 */
export function decodeDescriptorTableInfo(value: number | bigint): DescriptorTableInfo {
  const v = low32(value, 'instruction information');
  return {
    ...decodeMemoryOperand(v),
    operandSize32: ((v >>> 11) & 1) === 1,
    instruction: (v >>> 28) & 3,
  };
}

/** Instruction identity of LLDT/LTR/SLDT/STR, bits 29:28 (SDM Vol. 3C §28.2.5). */
export const SegmentTableInstruction = {
  /** 0: SLDT. */
  SLDT: 0,
  /** 1: STR. */
  STR: 1,
  /** 2: LLDT. */
  LLDT: 2,
  /** 3: LTR. */
  LTR: 3,
} as const;

/** Instruction information for LLDT, LTR, SLDT and STR (SDM Vol. 3C §28.2.5). */
export interface SegmentTableInfo extends MemoryOperandInfo {
  /** Bits 6:3 Reg1: the register operand (undefined for a memory operand). */
  readonly reg1: number;
  /** Bit 10 mem/reg: false = memory operand, true = register operand. */
  readonly register: boolean;
  /** Bits 29:28: {@link SegmentTableInstruction}. */
  readonly instruction: number;
}

/**
 * Encodes the instruction information of LLDT, LTR, SLDT or STR (exit reason 47).
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * // LTR AX
 * encodeSegmentTableInfo({ scaling: 0, addressSize: 0, segment: 0, indexRegister: 0,
 *   indexInvalid: false, baseRegister: 0, baseInvalid: false, reg1: 0, register: true,
 *   instruction: SegmentTableInstruction.LTR }); // 0x30000400
 * ```
 */
export function encodeSegmentTableInfo(i: SegmentTableInfo): number {
  return (
    (encodeMemoryOperand(i) |
      (fit(i.reg1, 4, 'reg1') << 3) |
      (flag(i.register, 'register') << 10) |
      (fit(i.instruction, 2, 'instruction') << 28)) >>>
    0
  );
}

/**
 * Decodes the instruction information of LLDT, LTR, SLDT or STR. Undefined bits are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeSegmentTableInfo(0x3000_0400).register; // true
 * ```
 */
export function decodeSegmentTableInfo(value: number | bigint): SegmentTableInfo {
  const v = low32(value, 'instruction information');
  return {
    ...decodeMemoryOperand(v),
    reg1: (v >>> 3) & 0xf,
    register: ((v >>> 10) & 1) === 1,
    instruction: (v >>> 28) & 3,
  };
}

/** Instruction information for INS and OUTS (SDM Vol. 3C §28.2.5; IA32_VMX_BASIC[54]). */
export interface StringIoInfo {
  /** Bits 9:7: {@link AddressSize}. */
  readonly addressSize: number;
  /** Bits 17:15: segment register of OUTS ({@link SegmentRegister}); undefined for INS. */
  readonly segment: number;
}

/**
 * Encodes the instruction information of INS or OUTS.
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * encodeStringIoInfo({ addressSize: AddressSize.BITS_64, segment: 3 }); // 0x18100
 * ```
 */
export function encodeStringIoInfo(i: StringIoInfo): number {
  return (fit(i.addressSize, 3, 'addressSize') << 7) | (fit(i.segment, 3, 'segment') << 15);
}

/**
 * Decodes the instruction information of INS or OUTS. Undefined bits are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeStringIoInfo(0x18100).segment; // 3 (DS)
 * ```
 */
export function decodeStringIoInfo(value: number | bigint): StringIoInfo {
  const v = low32(value, 'instruction information');
  return { addressSize: (v >>> 7) & 7, segment: (v >>> 15) & 7 };
}

/** Instruction information for RDRAND and RDSEED (SDM Vol. 3C §28.2.5). */
export interface RandomInfo {
  /** Bits 6:3: destination register ({@link Gpr}). */
  readonly destination: number;
  /** Bits 12:11 operand size: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit (3 is not used). */
  readonly operandSize: number;
}

/**
 * Encodes the instruction information of RDRAND or RDSEED.
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * encodeRandomInfo({ destination: 0, operandSize: 2 }); // 0x1000 (RDRAND RAX)
 * ```
 */
export function encodeRandomInfo(i: RandomInfo): number {
  return (fit(i.destination, 4, 'destination') << 3) | (fit(i.operandSize, 2, 'operandSize') << 11);
}

/**
 * Decodes the instruction information of RDRAND or RDSEED. Undefined bits are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeRandomInfo(0x1008).destination; // 1 (RCX)
 * ```
 */
export function decodeRandomInfo(value: number | bigint): RandomInfo {
  const v = low32(value, 'instruction information');
  return { destination: (v >>> 3) & 0xf, operandSize: (v >>> 11) & 3 };
}

/**
 * Encodes the instruction information of VMCLEAR, VMPTRLD, VMPTRST, VMXON, XRSTORS or XSAVES
 * (SDM Vol. 3C §28.2.5): the memory-operand fields only (bit 10 is cleared to 0, the rest is
 * undefined).
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * // VMPTRLD [RAX] in 64-bit mode, DS
 * encodeMemoryOperandInfo({ scaling: 0, addressSize: 2, segment: 3, indexRegister: 0,
 *   indexInvalid: true, baseRegister: 0, baseInvalid: false }); // 0x418100
 * ```
 */
export function encodeMemoryOperandInfo(i: MemoryOperandInfo): number {
  return encodeMemoryOperand(i) >>> 0;
}

/**
 * Decodes the instruction information of VMCLEAR, VMPTRLD, VMPTRST, VMXON, XRSTORS or XSAVES.
 * Undefined bits are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeMemoryOperandInfo(0x41_8100).baseRegister; // 0 (RAX)
 * ```
 */
export function decodeMemoryOperandInfo(value: number | bigint): MemoryOperandInfo {
  return decodeMemoryOperand(low32(value, 'instruction information'));
}

/** Instruction information for VMREAD and VMWRITE (SDM Vol. 3C §28.2.5). */
export interface VmreadVmwriteInfo extends MemoryOperandInfo {
  /** Bits 6:3 Reg1: the register operand of the field value (undefined for memory). */
  readonly reg1: number;
  /** Bit 10 mem/reg: false = memory operand, true = register operand. */
  readonly register: boolean;
  /** Bits 31:28 Reg2: the register holding the VMCS-field encoding. */
  readonly reg2: number;
}

/**
 * Encodes the instruction information of VMREAD or VMWRITE.
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * // VMREAD RBX, RAX (register form)
 * encodeVmreadVmwriteInfo({ scaling: 0, addressSize: 2, segment: 0, indexRegister: 0,
 *   indexInvalid: false, baseRegister: 0, baseInvalid: false, reg1: 3, register: true,
 *   reg2: 0 }); // 0x518
 * ```
 */
export function encodeVmreadVmwriteInfo(i: VmreadVmwriteInfo): number {
  return (
    (encodeMemoryOperand(i) |
      (fit(i.reg1, 4, 'reg1') << 3) |
      (flag(i.register, 'register') << 10) |
      (fit(i.reg2, 4, 'reg2') << 28)) >>>
    0
  );
}

/**
 * Decodes the instruction information of VMREAD or VMWRITE. Undefined bits are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeVmreadVmwriteInfo(0x518).reg1; // 3 (RBX)
 * ```
 */
export function decodeVmreadVmwriteInfo(value: number | bigint): VmreadVmwriteInfo {
  const v = low32(value, 'instruction information');
  return {
    ...decodeMemoryOperand(v),
    reg1: (v >>> 3) & 0xf,
    register: ((v >>> 10) & 1) === 1,
    reg2: v >>> 28,
  };
}
