/** Types of rates.js, for the unit tests that import it. */
export declare function failedShare(processed: number, failed: number): string;
