// Turns a vmkit-decoded instruction and an iced-x86-decoded instruction into the same
// comparable description: mnemonic, length and operands (registers by name, memory as
// segment/base/index/scale/displacement, immediates and branch targets as 64-bit values).
import { type Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import { type Instr, RIP_BASE, Seg } from '../../src/index.js';

const R64 = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI'];
const R8L = ['AL', 'CL', 'DL', 'BL', 'SPL', 'BPL', 'SIL', 'DIL'];
const R8H = ['AL', 'CL', 'DL', 'BL', 'AH', 'CH', 'DH', 'BH'];

/** iced's name of register `r` (0..15) of `size` bytes. */
export function regName(r: number, size: number, rex: boolean): string {
  if (r >= 8) return `R${r}${size === 8 ? '' : size === 4 ? 'D' : size === 2 ? 'W' : 'L'}`;
  switch (size) {
    case 8:
      return R64[r]!;
    case 4:
      return `E${R64[r]!.slice(1)}`;
    case 2:
      return R64[r]!.slice(1);
    default:
      return rex ? R8L[r]! : R8H[r]!;
  }
}

const M64 = (1n << 64n) - 1n;

function memory(ins: Instr, ip: bigint): string {
  const seg = ins.seg === Seg.FS ? 'FS:' : ins.seg === Seg.GS ? 'GS:' : '';
  const asize = ins.asize;
  const amask = asize === 8 ? M64 : 0xffffffffn;
  if (ins.base === -2) return `${seg}[${(BigInt(ins.immHi) << 32n) | BigInt(ins.imm)}]`;
  if (ins.base === -1 && ins.index === -1) return `${seg}[${BigInt(ins.disp) & amask}]`;
  if (ins.base === RIP_BASE) {
    const target = (ip + BigInt(ins.length) + BigInt(ins.disp)) & amask;
    return `${seg}[${asize === 8 ? 'RIP' : 'EIP'}+${target}]`;
  }
  const base = ins.base >= 0 ? regName(ins.base, asize, true) : '';
  const index = ins.index >= 0 ? `${regName(ins.index, asize, true)}*${1 << ins.scale}` : '';
  return `${seg}[${base}|${index}|${BigInt(ins.disp) & amask}]`;
}

function immediate(v: bigint, size: number): string {
  return `#${v & ((1n << BigInt(size * 8)) - 1n)}`;
}

/** vmkit's description of a decoded instruction at address `ip`. */
export function describeVmkit(ins: Instr, ip: bigint): string {
  const ops: string[] = [];
  const imm64 = (BigInt(ins.immHi) << 32n) | BigInt(ins.imm >>> 0);
  for (const op of ins.operands) {
    switch (op) {
      case 'Eb':
      case 'Ev':
      case 'Ew':
      case 'Ed':
      case 'Eq': {
        const size =
          op === 'Eb' ? 1 : op === 'Ev' ? ins.osize : op === 'Ew' ? 2 : op === 'Ed' ? 4 : 8;
        ops.push(ins.mod === 3 ? regName(ins.rm, size, ins.rex) : memory(ins, ip));
        break;
      }
      case 'M':
      case 'Mq':
        ops.push(memory(ins, ip));
        break;
      case 'Gb':
      case 'Gv':
      case 'Gq':
        ops.push(regName(ins.reg, op === 'Gb' ? 1 : op === 'Gq' ? 8 : ins.osize, ins.rex));
        break;
      case 'Zb':
      case 'Zv':
        ops.push(regName(ins.reg, op === 'Zb' ? 1 : ins.osize, ins.rex));
        break;
      case 'AL':
        ops.push('AL');
        break;
      case 'rAX':
        ops.push(regName(0, ins.osize, ins.rex));
        break;
      case 'CL':
        ops.push('CL');
        break;
      case 'DX':
        ops.push('DX');
        break;
      case 'eAX':
        ops.push(regName(0, ins.osize, false));
        break;
      case 'one':
        ops.push('#1');
        break;
      case 'Ib':
        ops.push(immediate(BigInt(ins.mnemonic === 'Enter' ? ins.imm2 : ins.imm), 1));
        break;
      case 'Iw':
        ops.push(immediate(BigInt(ins.imm), 2));
        break;
      case 'Ibs':
      case 'Iz':
      case 'Iv':
        ops.push(immediate(imm64, ins.osize));
        break;
      case 'Jb':
      case 'Jz':
        ops.push(`->${(ip + BigInt(ins.length) + BigInt(ins.imm)) & M64}`);
        break;
      case 'Ob':
      case 'Ov':
        ops.push(memory(ins, ip));
        break;
      case 'Cq':
        ops.push(`CR${ins.reg}`);
        break;
      case 'Rq':
        ops.push(regName(ins.rm, 8, true));
        break;
      case 'SS':
        ops.push('SS');
        break;
    }
  }
  return `${ins.mnemonic} ${ops.join(', ')}`;
}

function icedReg(r: Register): string {
  return Register[r]!;
}

function icedMemory(i: Instruction): string {
  const sp = i.segmentPrefix;
  const seg = sp === Register.FS ? 'FS:' : sp === Register.GS ? 'GS:' : '';
  const base = i.memoryBase;
  const disp = BigInt.asUintN(64, i.memoryDisplacement);
  if (base === Register.RIP || base === Register.EIP) return `${seg}[${icedReg(base)}+${disp}]`;
  if (base === Register.None && i.memoryIndex === Register.None) return `${seg}[${disp}]`;
  const idx =
    i.memoryIndex === Register.None ? '' : `${icedReg(i.memoryIndex)}*${i.memoryIndexScale}`;
  return `${seg}[${base === Register.None ? '' : icedReg(base)}|${idx}|${disp}]`;
}

/** iced-x86's description of a decoded instruction, in the same form. */
export function describeIced(i: Instruction, osize: number): string {
  const ops: string[] = [];
  for (let k = 0; k < i.opCount; k++) {
    const kind = i.opKind(k);
    switch (kind) {
      case OpKind.Register:
        ops.push(icedReg(i.opRegister(k)));
        break;
      case OpKind.Memory:
        ops.push(icedMemory(i));
        break;
      case OpKind.NearBranch64:
        ops.push(`->${i.nearBranchTarget}`);
        break;
      case OpKind.Immediate8:
      case OpKind.Immediate8_2nd:
        ops.push(immediate(i.immediate(k), 1));
        break;
      case OpKind.Immediate16:
        ops.push(immediate(i.immediate(k), 2));
        break;
      case OpKind.Immediate32:
      case OpKind.Immediate64:
      case OpKind.Immediate8to16:
      case OpKind.Immediate8to32:
      case OpKind.Immediate8to64:
      case OpKind.Immediate32to64:
        ops.push(immediate(BigInt.asUintN(64, i.immediate(k)), osize));
        break;
      default:
        ops.push(`?${OpKind[kind]}`);
    }
  }
  return `${Mnemonic[i.mnemonic]} ${ops.join(', ')}`;
}
