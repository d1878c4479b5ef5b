import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// Any change to the public surface shows up here in review.
it('exports exactly the public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'ADDRESS_WIDTHS',
    'BumpAllocator',
    'ContextTables',
    'DmaFaultError',
    'DmaMemory',
    'DmaRemapping',
    'FaultLog',
    'FaultReason',
    'FaultStatus',
    'GlobalBits',
    'InterruptRemapping',
    'InterruptRemappingTable',
    'Iommu',
    'IommuError',
    'Iotlb',
    'SecondLevelTables',
    'TranslationType',
    'VtdReg',
    'VtdRegisters',
    'decodeCompatibility',
    'encodeFaultRecord',
    'encodeIrte',
    'isInterruptFault',
    'lookupContext',
    'remappableMsi',
    'walkSecondLevel',
  ]);
});
