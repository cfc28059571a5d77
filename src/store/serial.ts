// One operation at a time on a file inside this process. OFD locks keep other processes
// out, but every session of the built-in server shares one open file description, so the
// lock cannot order them against each other: this queue does.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
