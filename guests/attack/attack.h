/* attack.h: what the hostile guest's files share (attack.c has the mode table). */
#ifndef REDOUBT_GUEST_ATTACK_H
#define REDOUBT_GUEST_ATTACK_H
#include "redoubt.h"

/* attack_asm.asm: accesses that return 0 or the fault (7 #UD, 14 #GP, 15 #PF). */
extern uint64_t t_fault_vector, t_fault_cr2, t_fault_err;
extern uint64_t t_read64(uint64_t a, uint64_t* out);
extern uint64_t t_write64(uint64_t a, uint64_t v);
extern uint64_t t_write_marker(uint64_t a);
extern uint64_t t_read32(uint64_t a, uint32_t* out);
extern uint64_t t_write32(uint64_t a, uint32_t v);
extern uint64_t t_read8(uint64_t a, uint8_t* out);
extern uint64_t t_write8(uint64_t a, uint8_t v);
extern uint64_t t_rdmsr(uint32_t msr, uint64_t* out);
extern uint64_t t_wrmsr(uint32_t msr, uint64_t v);
extern uint64_t t_rdcr(unsigned which);
extern uint64_t t_wrcr0(uint64_t v);
extern uint64_t t_wrcr3(uint64_t v);
extern uint64_t t_wrcr4(uint64_t v);
extern uint64_t t_svm(unsigned which, uint64_t rax);
extern void isr_pf(void), isr_gp(void), isr_ud(void), isr_iret(void);
extern void loop_forever(void), out_flood(void), ud_storm(void);

#define SECRET_GPA 0x300000ull
#define SECRET_BYTES 4096u
/* What the attacker writes: 0xA77AC4EDA77AC4ED (t_write_marker); the scenario scans memory for it. */

/* attack_common.c: output through the console hypercall, the IDT, helpers. */
long hc(long nr, long a, long b, long c);
void oflush(void);
void oc(char c);
void os(const char* s);
void ohex(uint64_t v);
void odec(int64_t v);
const char* fault_name(uint64_t f);
void set_gate(unsigned v, void (*fn)(void));
void load_idt(uint64_t base, uint16_t limit);
void load_own_idt(void);
uint64_t xorshift(uint64_t* x);
uint64_t num(const char** p);
extern unsigned not_stopped; /* attempts the hypervisor did not stop: the exit code */

/* The modes (docs in attack.c). */
long victim(uint64_t seed, uint64_t sleep_ticks); /* attack_memory.c */
long peek(void);
long cr3(uint64_t target);
long ptbomb(void);
long svm(unsigned which, uint64_t rax); /* attack_cpu.c */
long msr(uint64_t hv_mem);
long cr(void);
long io(void);
long exc(uint64_t how);
long hcall(uint64_t victim_secret_hpa, uint64_t hv_mem, uint64_t which); /* attack_hypercall.c */
long flood(uint64_t how);
long timer(void);
long tpm(uint64_t mask); /* attack_tpm.c */

#endif
