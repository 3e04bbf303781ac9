/* sim_timer.cpp -- sim_timer.h on simgrid::kernel::timer::Timer (a public
 * header of SimGrid 3.32; there is no C API for it), and the clock's copy
 * on s4u::Engine's on_time_advance signal, which SimGrid fires right
 * after each move of its clock. */
#include <new>

#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>

#include "sim/sim_timer.h"

extern "C" sim_timer *sim_timer_at(double date, void (*fn)(void *), void *arg)
{
    double now = simgrid::s4u::Engine::get_clock();
    try {
        return reinterpret_cast<sim_timer *>(
            simgrid::kernel::timer::Timer::set(date > now ? date : now, [fn, arg]() { fn(arg); }));
    } catch (const std::bad_alloc &) {
        return nullptr;
    }
}

extern "C" void sim_timer_cancel(sim_timer *t)
{
    reinterpret_cast<simgrid::kernel::timer::Timer *>(t)->remove();
}

double sim_clock_now = 0; /* C linkage: declared so in sim_timer.h */

extern "C" void sim_clock_watch(void)
{
    static bool watching;
    if (!watching) {
        simgrid::s4u::Engine::on_time_advance_cb([](double) { sim_clock_now = simgrid::s4u::Engine::get_clock(); });
        watching = true;
    }
    sim_clock_now = simgrid::s4u::Engine::get_clock();
}
