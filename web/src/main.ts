import './styles.css';
import { App } from './app';
import { refreshTimesEveryMinute } from './dom';

const root = document.getElementById('app');
if (root === null) throw new Error('#app is missing from index.html');
void new App(root).boot();
refreshTimesEveryMinute();
