// The 16550 UART register file (National Semiconductor PC16550D data sheet,
// "Register Description", Table II "Summary of Registers"), as found at the PC's
// COM1 (0x3F8). Pure data.
#pragma once
#include <cstdint>

namespace redoubt::arch::uart {

inline constexpr uint16_t kCom1 = 0x3F8;
inline constexpr uint16_t kCom2 = 0x2F8;  // the harness channel (abi/harness_channel.hpp)
inline constexpr uint16_t kPorts = 8;
inline constexpr uint32_t kClockHz = 1843200;    // PC crystal; baud = clock / (16 * divisor)
inline constexpr uint32_t kBaseBaud = kClockHz / 16;  // 115200: divisor 1

// Offsets from the base port (PC16550D Table II).
inline constexpr uint16_t kRbrThr = 0;  // DLAB=0: RBR (read) / THR (write); DLAB=1: DLL
inline constexpr uint16_t kIer = 1;     // DLAB=0: IER; DLAB=1: DLM
inline constexpr uint16_t kIirFcr = 2;  // IIR (read) / FCR (write)
inline constexpr uint16_t kLcr = 3;
inline constexpr uint16_t kMcr = 4;
inline constexpr uint16_t kLsr = 5;
inline constexpr uint16_t kMsr = 6;
inline constexpr uint16_t kScr = 7;

namespace lcr {
inline constexpr uint8_t kWordLength8 = 0x03;  // bits 1:0 = 11: 8 data bits
inline constexpr uint8_t kStopBits2 = 0x04;
inline constexpr uint8_t kParityEnable = 0x08;
inline constexpr uint8_t kBreak = 0x40;
inline constexpr uint8_t kDlab = 0x80;         // divisor latch access
inline constexpr uint8_t k8N1 = kWordLength8;  // 8 data bits, no parity, 1 stop bit
}  // namespace lcr

namespace fcr {
inline constexpr uint8_t kEnable = 0x01;
inline constexpr uint8_t kClearRx = 0x02;
inline constexpr uint8_t kClearTx = 0x04;
inline constexpr uint8_t kTrigger14 = 0xC0;
}  // namespace fcr

namespace iir {
inline constexpr uint8_t kNoInterrupt = 0x01;   // bit 0 = 1: nothing pending
inline constexpr uint8_t kFifosEnabled = 0xC0;  // bits 7:6 = 11 when FCR bit 0 is set
}  // namespace iir

namespace mcr {
inline constexpr uint8_t kDtr = 0x01;
inline constexpr uint8_t kRts = 0x02;
inline constexpr uint8_t kOut1 = 0x04;
inline constexpr uint8_t kOut2 = 0x08;
inline constexpr uint8_t kLoop = 0x10;
}  // namespace mcr

namespace lsr {
inline constexpr uint8_t kDataReady = 0x01;
inline constexpr uint8_t kOverrun = 0x02;
inline constexpr uint8_t kThre = 0x20;  // transmitter holding register empty
inline constexpr uint8_t kTemt = 0x40;  // transmitter empty
}  // namespace lsr

namespace msr {
inline constexpr uint8_t kCts = 0x10;
inline constexpr uint8_t kDsr = 0x20;
inline constexpr uint8_t kRi = 0x40;
inline constexpr uint8_t kDcd = 0x80;
}  // namespace msr

}  // namespace redoubt::arch::uart
